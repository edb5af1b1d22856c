# syntax=docker/dockerfile:1
# Multi-stage: build a static binary, ship it on scratch with CA certificates
# (for JWKS over https) and a writable data folder for the SQLite default.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/refactor ./cmd/refactor \
 && mkdir -p /out/data

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /out/refactor /refactor
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /
ENV LISTEN_ADDR=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=5s --timeout=3s CMD ["/refactor", "healthcheck"]
ENTRYPOINT ["/refactor"]
CMD ["serve"]
