# syntax=docker/dockerfile:1
# Multi-stage: build a static binary, ship it on scratch with CA certificates
# (for JWKS and uri fetches over https) and a writable /data for the SQLite
# and file:// blob defaults. Everything the binary serves (spec, /docs page)
# is embedded in it.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# VERSION and COMMIT end up in `refactor version` and refactor_build_info:
#   docker build --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD) .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/refactor ./cmd/refactor \
 && mkdir -p /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /out/refactor /refactor
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /
ENV LISTEN_ADDR=0.0.0.0:8080
EXPOSE 8080
# scratch has no shell or curl: the binary checks its own /healthz.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["/refactor", "healthcheck"]
ENTRYPOINT ["/refactor"]
CMD ["serve"]
