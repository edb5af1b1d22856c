package spectest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Gen makes random requests for property tests of the spec: half of them
// calm (mostly valid), half with odd values, many at or past a limit, from
// small alphabets of the characters each rule is about, so that both sides
// of every rule are hit.
type Gen struct {
	rng     *rand.Rand
	fetchOK string // host:port of a server that answers any GET with 200
	// calm makes odd values ten times rarer, for the half of the requests
	// that should mostly be valid: a request has many fields, and any one
	// odd value would make nearly all of them invalid.
	calm bool
	// Shallow leaves out metadata nested near the 1,000-level limit, which
	// overflows the stack of Prism's proxy (a 500 of Prism's own).
	Shallow bool
}

// NewGen returns a generator seeded with seed. Its uri values are mostly
// http://fetchHost/..., which a test serves.
func NewGen(seed uint64, fetchHost string) *Gen {
	return &Gen{rng: rand.New(rand.NewPCG(seed, 13)), fetchOK: fetchHost}
}

func (g *Gen) pick(n int) int    { return g.rng.IntN(n) }
func (g *Gen) chance(n int) bool { return g.rng.IntN(n) == 0 }

// odd reports, with chance 1 in n (1 in 10n when calm), that a value
// should be an edge case.
func (g *Gen) odd(n int) bool {
	if g.calm {
		n *= 10
	}
	return g.chance(n)
}
func oneOf[T any](g *Gen, xs ...T) T { return xs[g.pick(len(xs))] }

// Characters by how they meet the rules: plain, wide (two to four UTF-8
// bytes, for limits that count characters), white space that is trimmed
// from tags, control characters, and the separators of the rules.
var (
	plainChars = []rune("abcXYZ019-_.~ %*\\'\"!$&+=@:;")
	wideChars  = []rune("éñ日本語😀𝄞\u00a0\u2028\ufffd\ufeff")
	spaceChars = []rune(" \t\n\v\f\r\u0085\u00a0\u1680\u2000\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
	ctrlChars  = []rune("\x00\x01\x1f\x7f\u0080\u0085\u009f")
)

// text returns n characters, mostly plain, some wide, rarely one from
// extra (the characters a rule is about).
func (g *Gen) text(n int, extra ...rune) string {
	var b strings.Builder
	for range n {
		switch {
		case len(extra) > 0 && g.odd(40):
			b.WriteRune(oneOf(g, extra...))
		case g.chance(4):
			b.WriteRune(oneOf(g, wideChars...))
		default:
			b.WriteRune(oneOf(g, plainChars...))
		}
	}
	return b.String()
}

// length returns a length near 0, near limit or in between.
func (g *Gen) length(limit int) int {
	switch {
	case g.odd(4):
		return g.pick(3)
	case g.chance(4):
		return limit - 1 + g.pick(2+bool2int(!g.calm))
	default:
		return 1 + g.pick(12)
	}
}

func bool2int(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (g *Gen) name() any {
	switch {
	case g.odd(12):
		return oneOf[any](g, ".", "..", "...", " ", "a/b", "/", "", 7, nil)
	case g.chance(12):
		return strings.Repeat(oneOf(g, "a", "é", "日", "😀"), 254+g.pick(2+bool2int(!g.calm)))
	}
	return g.text(g.length(255), append([]rune("/"), ctrlChars...)...)
}

func (g *Gen) segment() string {
	switch {
	case g.odd(10):
		return oneOf(g, "", ".", "..")
	case g.chance(10):
		return oneOf(g, "...", ".a", "..a", "a.", " ", ". .")
	case g.chance(9):
		return g.text(1+g.pick(3), '.', '/')
	}
	return g.text(1+g.pick(8), ctrlChars...)
}

func (g *Gen) directoryPath() any {
	switch {
	case g.chance(20):
		return "/"
	case g.odd(14):
		return oneOf[any](g, "", "a", "a/b", "//", "/a/", "/a//b", "/./a", "/a/..", false)
	case g.chance(14): // at the limit, in wide characters
		c := oneOf(g, "a", "é", "😀")
		return "/" + strings.Repeat(c, 1022+g.pick(2+bool2int(!g.calm)))
	}
	var b strings.Builder
	for range 1 + g.pick(4) {
		b.WriteString("/" + g.segment())
	}
	if g.odd(15) {
		b.WriteString("/")
	}
	return b.String()
}

func (g *Gen) tag() any {
	core := g.text(g.length(64), append([]rune(","), ctrlChars...)...)
	switch {
	case g.odd(8):
		return oneOf[any](g, "", " ", "\t", ",", "a,b", 3)
	case g.chance(6): // trimmed white space around, or inside
		pad := func() string { return strings.Repeat(string(oneOf(g, spaceChars...)), g.pick(3)) }
		return pad() + core + pad()
	case g.chance(6):
		return strings.Repeat(oneOf(g, "x", "é", "😀"), 63+g.pick(2+bool2int(!g.calm)))
	}
	return core
}

func (g *Gen) tags() any {
	if g.odd(10) {
		return oneOf[any](g, nil, "a,b")
	}
	n := g.pick(5)
	if g.chance(4) {
		n = 49 + g.pick(2+bool2int(!g.calm))
	}
	tags := make([]any, n)
	for i := range tags {
		if i > 0 && g.chance(5) {
			tags[i] = tags[g.pick(i)] // duplicates are dropped, not refused
		} else {
			tags[i] = g.tag()
		}
	}
	return tags
}

var base64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func (g *Gen) token() string {
	const chars = "abcXYZ09!#$%&'*+.^_`|~{}-"
	if g.odd(30) {
		return oneOf(g, "", " ", "a b", "(", "@", "é", "a\"b", "a/b", "=", ",")
	}
	var b strings.Builder
	for range 1 + g.pick(6) {
		b.WriteByte(chars[g.pick(len(chars))])
	}
	return b.String()
}

func (g *Gen) mediaType() string {
	mt := g.token() + "/" + g.token()
	if g.chance(10) {
		mt = oneOf(g, "text/plain", "Text/Plain", "image/svg+xml")
	}
	if g.odd(10) {
		mt = oneOf(g, "text", "", "/plain", "text/", " text/plain")
	}
	for range g.pick(3) {
		value := g.token()
		if g.chance(4) {
			value = `"` + g.text(g.pick(5), '"', '\\', ',', 'é') + `"`
		}
		sep, eq := ";", "="
		if g.odd(20) {
			sep, eq = oneOf(g, "; ", ",", ";"), oneOf(g, "", "=", " =")
		}
		mt += sep + g.token() + eq + value
	}
	return mt
}

// base64Data returns standard base64 of random bytes, sometimes broken:
// padding dropped or misplaced, characters outside the alphabet, line
// breaks inserted (which the server skips).
func (g *Gen) base64Data() string {
	b := make([]byte, g.pick(10))
	for i := range b {
		b[i] = byte(g.pick(256))
	}
	s := base64.StdEncoding.EncodeToString(b)
	if g.odd(5) {
		s = base64.RawStdEncoding.EncodeToString(b)
	}
	for range g.pick(3) {
		i := g.pick(len(s) + 1)
		ins := oneOf(g, "\n", "\r\n", "\r")
		if g.odd(2) {
			ins = oneOf(g, "=", "==", " ", "-", "_", "A", "é", "\t", string(base64Alphabet[g.pick(64)]))
		}
		s = s[:i] + ins + s[i:]
	}
	return s
}

func (g *Gen) content() any {
	switch {
	case g.odd(12):
		return oneOf[any](g, "", "data:", "hello", "data:text/plain,hi", "data:;base64,aGk=", 1)
	case g.odd(12):
		return oneOf(g, "DATA:", "data: ", "data:text/plain;BASE64,", "data:text/plain;base64;x=1,") + g.base64Data()
	}
	return "data:" + g.mediaType() + ";base64," + g.base64Data()
}

// uri returns http(s) URLs of the fetch server with RFC 3986 paths,
// queries and fragments, and every way of breaking the form.
func (g *Gen) uri() any {
	pchars := []string{"a", "Z", "0", "-", ".", "_", "~", "!", "$", "&", "'", "(", ")", "*", "+", ",", ";", "=", ":", "@", "%41", "%c3%a9"}
	bad := []string{" ", "é", "%", "%4", "%zz", "[", "]", "\"", "<", "{", "|", "\\", "^", "`", "#"}
	part := func() string {
		var b strings.Builder
		for range g.pick(6) {
			if g.odd(15) {
				b.WriteString(oneOf(g, bad...))
			} else {
				b.WriteString(oneOf(g, pchars...))
			}
		}
		return b.String()
	}
	host := g.fetchOK
	switch {
	case g.chance(10):
		host = oneOf(g, "localhost"+host[strings.LastIndex(host, ":"):], "127.0.0.1", "[::1]", "[0:0:0:0:0:0:0:1]:1",
			"[::ffff:127.0.0.1]:1", "[1:2:3:4:5:6:7::]", "[::1:2:3:4:5:6:7]", "[1::2:3.4.5.6]", "example.invalid",
			"a!$&'()*+,;=.invalid")
	case g.odd(10): // hosts and authorities the form refuses
		host = oneOf(g, "", ":80", "u@"+host, "u:p@"+host, "[::1", "[zz]", "[::1%25lo]", "[1:2:3:4:5:6:7:8:9]",
			"[v1.x]", "ex%41mple.invalid", "a b", "é.invalid", "h:8x", "[1.2.3.4]", "[::01.2.3.4]", "[1:2:3:4:5:6:7:8::]")
	}
	scheme := oneOf(g, "http", "http", "HTTP", "Https")
	if g.odd(10) {
		scheme = oneOf(g, "ftp", "", "file", "http:")
	}
	u := scheme + "://" + host
	if g.odd(20) {
		u = scheme + oneOf(g, ":/", ":", ":///") + host
	}
	if g.chance(2) {
		u += "/" + part() + oneOf(g, "", "/"+part())
	}
	if g.chance(3) {
		u += "?" + part() + oneOf(g, "", "/?", "=1&b")
	}
	if g.chance(4) {
		u += "#" + part()
	}
	if g.chance(30) {
		u += "/" + strings.Repeat("a", 2046-len(u)+g.pick(2+bool2int(!g.calm)))
	}
	return u
}

func (g *Gen) metadata() any {
	switch {
	case g.odd(14):
		return oneOf[any](g, nil, "x", 1, []any{1}, true)
	case g.chance(14): // about the 64 KiB cap of its compact form
		pad := 65536 - len(`{"k":""}`) - 1 + g.pick(2+bool2int(!g.calm))
		return map[string]any{"k": strings.Repeat("x", pad)}
	case g.odd(14): // NUL and unpaired surrogates no jsonb can store
		return json.RawMessage(oneOf(g, `{"a":"\u0000"}`, `{"\u0000":1}`, `{"a":"\ud800"}`, `{"a":"\udc00x"}`))
	case g.chance(14):
		return json.RawMessage(oneOf(g, `{"a":"\ud83d\ude00"}`, `{"a":"\\u0000"}`, `{"\u00e9":"\u0085"}`))
	case !g.Shallow && g.chance(14): // the nesting limit, and the JSON decoder's
		depth := 998 + g.pick(2+bool2int(!g.calm))
		if g.odd(4) {
			depth = 9998 + g.pick(4)
		}
		return json.RawMessage(`{"a":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`)
	}
	m := map[string]any{}
	for range g.pick(4) {
		m[g.text(g.pick(6), ctrlChars...)] = oneOf[any](g, "v", 1.5, nil, []any{"a", map[string]any{"b": false}}, g.text(3, ctrlChars...))
	}
	return m
}

// createBody returns a body for POST /v1/resources.
func (g *Gen) createBody() map[string]any {
	b := map[string]any{}
	if !g.odd(20) {
		b["name"] = g.name()
	}
	if !g.odd(20) {
		b["directory_path"] = g.directoryPath()
	}
	switch {
	case g.odd(20): // neither
	case g.odd(20):
		b["content"], b["uri"] = g.content(), g.uri()
	case g.chance(3):
		b["uri"] = g.uri()
	default:
		b["content"] = g.content()
	}
	if g.chance(2) {
		b["tags"] = g.tags()
	}
	if g.chance(3) {
		b["metadata"] = g.metadata()
	}
	if g.odd(25) {
		b[oneOf(g, "mime_type", "id", "Name", "extra")] = "x"
	}
	return b
}

// updateBody returns a body for PUT /v1/resource/{id}.
func (g *Gen) updateBody() map[string]any {
	b := map[string]any{}
	if g.chance(2) {
		b["name"] = g.name()
	}
	if g.chance(2) {
		b["directory_path"] = g.directoryPath()
	}
	if g.chance(3) {
		b["metadata"] = g.metadata()
	}
	if g.odd(25) {
		b[oneOf(g, "tags", "content", "uri")] = "x"
	}
	return b
}

// id returns a path segment for /v1/resource/{id}: valid is a stored id.
func (g *Gen) id(valid string) string {
	switch g.pick(6) {
	case 0:
		if !g.odd(1) {
			return valid
		}
		return oneOf(g, "x", "00000000-0000-0000-0000-00000000000g", "urn:uuid:"+valid,
			"{"+valid+"}", strings.ReplaceAll(valid, "-", ""), valid+"0", valid[1:], " "+valid)
	case 1:
		return strings.ToUpper(valid)
	case 2:
		return fmt.Sprintf("%08x-0000-%04x-0000-000000000000", g.rng.Uint32(), g.pick(1<<16))
	}
	return valid
}

func (g *Gen) timestamp() string {
	zone := oneOf(g, "Z", "+01:00", "-05:30", "+23:59", "-00:00")
	frac := oneOf(g, "", ".5", ".123456789", ".1234567891234")
	year := oneOf(g, "2024", "0000", "9999", "2023")
	date := oneOf(g, "-02-28", "-01-31", "-12-31", "-02-29")
	clock := oneOf(g, "T10:00:00", "T23:59:59", "T00:00:00")
	if g.odd(3) {
		switch g.pick(5) {
		case 0:
			zone = oneOf(g, "z", "", "+24:00", "+01:60", "+0100", " 01:00")
		case 1:
			frac = oneOf(g, ",5", ".")
		case 2:
			year = oneOf(g, "24", "20245")
		case 3:
			date = oneOf(g, "-04-31", "-13-01", "-1-01", "-00-10")
		default:
			clock = oneOf(g, "t10:00:00", " 10:00:00", "T23:59:60", "T24:00:00", "T10:00", "T9:00:00")
		}
	}
	if g.odd(20) {
		return oneOf(g, "", "now", "2024-01-01", "1704067200")
	}
	return year + date + clock + frac + zone
}

func (g *Gen) integer(valid int) string {
	if !g.odd(2) {
		return fmt.Sprint(valid)
	}
	return oneOf(g, "0", "1", "-1", "100", "101", "01", "+1", "1.0", "1e2", "", " 1", "x",
		"9223372036854775807", "9223372036854775808", "99999999999999999999")
}

// listQuery returns a raw query for GET /v1/resources, encoded as a client
// would: percent-escapes everywhere, spaces as %20.
func (g *Gen) listQuery() string {
	var parts []string
	add := func(name, value string) {
		parts = append(parts, url.QueryEscape(name)+"="+strings.ReplaceAll(url.QueryEscape(value), "+", "%20"))
	}
	if g.chance(2) {
		add("tags", g.text(g.pick(10), ',', ' ', '\x00'))
	}
	if g.chance(3) {
		add("directory_prefix", g.text(g.pick(8), '/', '%', '_'))
	}
	if g.chance(3) {
		add("created_after", g.timestamp())
	}
	if g.chance(3) {
		add("created_before", g.timestamp())
	}
	if g.chance(3) {
		if g.odd(4) {
			add("sort", oneOf(g, "ASC", "", "up"))
		} else {
			add("sort", oneOf(g, "asc", "desc"))
		}
	}
	if g.chance(3) {
		add("page", g.integer(1+g.pick(3)))
	}
	if g.chance(3) {
		add("page_size", g.integer(1+g.pick(100)))
	}
	if g.odd(15) {
		add("cursor", oneOf(g, "", "AAAA", "not a cursor!", strings.Repeat("A", 512+g.pick(2))))
	}
	if g.chance(10) {
		add(oneOf(g, "unknown", "Page", "tag"), "1")
	}
	q := strings.Join(parts, "&")
	if g.odd(20) {
		q += oneOf(g, "&tags=%FF", "&directory_prefix=%C3", "&tags=%00")
	}
	return q
}

// Case is one request: its body is JSON, sent with that Content-Type.
type Case struct {
	Method, Path, Query string
	Body                []byte
}

func (c Case) String() string {
	s := c.Method + " " + c.Path
	if c.Query != "" {
		s += "?" + c.Query
	}
	if c.Body != nil {
		s += " " + string(c.Body)
	}
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// Request returns a random request: a create or update body, an item id
// (id is a stored resource's) or a list query.
func (g *Gen) Request(id string) Case {
	g.calm = g.chance(2)
	switch n := g.pick(20); {
	case n < 8:
		return Case{Method: http.MethodPost, Path: "/v1/resources", Body: encodeBody(g.createBody())}
	case n < 13:
		return Case{Method: http.MethodPut, Path: "/v1/resource/" + url.PathEscape(g.id(id)), Body: encodeBody(g.updateBody())}
	case n < 19:
		return Case{Method: http.MethodGet, Path: "/v1/resources", Query: g.listQuery()}
	}
	return Case{Method: http.MethodGet, Path: "/v1/resource/" + url.PathEscape(g.id(id))}
}

// encodeBody writes b as JSON, keeping json.RawMessage values as they are
// (escapes no encoder writes, nesting no map holds).
func encodeBody(b map[string]any) []byte {
	var out bytes.Buffer
	out.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(b)) {
		if i > 0 {
			out.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		out.Write(key)
		out.WriteByte(':')
		if raw, ok := b[k].(json.RawMessage); ok {
			out.Write(raw)
			continue
		}
		v, err := json.Marshal(b[k])
		if err != nil {
			panic(err)
		}
		out.Write(v)
	}
	out.WriteByte('}')
	return out.Bytes()
}

// NewRequest returns c as a request to the server at base.
func (c Case) NewRequest(base string) *http.Request {
	target := base + c.Path
	if c.Query != "" {
		target += "?" + c.Query
	}
	var body io.Reader
	if c.Body != nil {
		body = bytes.NewReader(c.Body)
	}
	req, err := http.NewRequest(c.Method, target, body)
	if err != nil {
		panic(err)
	}
	if c.Body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}
