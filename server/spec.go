package server

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/re-factor/resources/gen"
)

// specDocs holds the served forms of the spec: the JSON that gen embeds and
// the same document as YAML.
type specDocs struct {
	json, yaml []byte
}

// servedSpec builds them once; they derive from embedded data only, so
// every server shares them.
var servedSpec = sync.OnceValues(loadSpecDocs)

func loadSpecDocs() (specDocs, error) {
	j, err := gen.GetSpecJSON()
	if err != nil {
		return specDocs{}, err
	}
	y, err := jsonToYAML(j)
	if err != nil {
		return specDocs{}, fmt.Errorf("convert spec to YAML: %w", err)
	}
	return specDocs{json: j, yaml: y}, nil
}

// jsonToYAML re-encodes a JSON document as block-style YAML, keeping the
// order of its keys (JSON is YAML, so the node tree is read as is).
func jsonToYAML(j []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(j, &doc); err != nil {
		return nil, err
	}
	blockStyle(&doc)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}

// blockStyle drops the JSON styles (flow collections, quoted scalars). Each
// node keeps the tag it was read with, and the encoder quotes a string such
// as "200" that would otherwise read back as another type.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// GetOpenAPIYAML serves GET /openapi.yaml.
func (s *Server) GetOpenAPIYAML(context.Context, gen.GetOpenAPIYAMLRequestObject) (gen.GetOpenAPIYAMLResponseObject, error) {
	docs, err := servedSpec()
	return staticBody{contentType: "application/yaml", body: docs.yaml}, err
}

// GetOpenAPIJSON serves GET /openapi.json.
func (s *Server) GetOpenAPIJSON(context.Context, gen.GetOpenAPIJSONRequestObject) (gen.GetOpenAPIJSONResponseObject, error) {
	docs, err := servedSpec()
	return staticBody{contentType: "application/json", body: docs.json}, err
}

// staticBody is a response of fixed bytes. The generated JSON response type
// would decode the spec into a map and re-encode it on every request.
type staticBody struct {
	contentType string
	body        []byte
	csp         string // Content-Security-Policy, if any
}

func (b staticBody) write(w http.ResponseWriter) error {
	h := w.Header()
	h.Set("Content-Type", b.contentType)
	h.Set("Content-Length", strconv.Itoa(len(b.body)))
	h.Set("Cache-Control", "public, max-age=300")
	if b.csp != "" {
		h.Set("Content-Security-Policy", b.csp)
	}
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(b.body)
	return err
}

func (b staticBody) VisitGetOpenAPIYAMLResponse(w http.ResponseWriter) error { return b.write(w) }
func (b staticBody) VisitGetOpenAPIJSONResponse(w http.ResponseWriter) error { return b.write(w) }
func (b staticBody) VisitGetDocsResponse(w http.ResponseWriter) error        { return b.write(w) }
