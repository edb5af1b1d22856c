package validation

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// Describe turns a kin-openapi validation failure into one line naming the
// parameter and the rule it broke, without the schema dump.
func Describe(re *openapi3filter.RequestError) string {
	reason := re.Reason
	var se *openapi3.SchemaError
	var pe *openapi3filter.ParseError
	switch {
	case errors.As(re.Err, &se):
		reason = describeSchemaError(se)
	case errors.As(re.Err, &pe) && re.RequestBody != nil:
		return "request body is not valid JSON"
	case errors.As(re.Err, &pe):
		reason = describeParseError(pe)
	case re.Err != nil:
		reason = firstLine(re.Err.Error())
	}
	if p := re.Parameter; p != nil {
		return fmt.Sprintf("%s parameter %q: %s", p.In, p.Name, reason)
	}
	if re.RequestBody != nil {
		return "request body: " + reason
	}
	return firstLine(re.Error())
}

// describeParseError explains a value that could not be read as its type,
// without echoing the (possibly huge) value.
func describeParseError(pe *openapi3filter.ParseError) string {
	if errors.Is(pe.Cause, strconv.ErrRange) {
		return "is out of range"
	}
	if pe.Reason != "" {
		return "is " + pe.Reason
	}
	return "cannot be parsed"
}

// describeSchemaError says which rule a value broke, and where in a body.
func describeSchemaError(se *openapi3.SchemaError) string {
	se = leafSchemaError(se)
	path := se.JSONPointer()
	reason := describeRule(se)
	// An object's own keywords name the property they are about.
	var ve *jsonschema.ValidationError
	if errors.As(se, &ve) {
		switch k := ve.ErrorKind.(type) {
		case *kind.Required:
			path, reason = append(path, k.Missing[0]), "is required"
		case *kind.AdditionalProperties:
			path, reason = append(path, k.Properties[0]), "is not a field of this request"
		}
	}
	if len(path) > 0 {
		return strings.Join(path, ".") + ": " + reason
	}
	return reason
}

// leafSchemaError returns the failure itself: the JSON Schema 2020-12
// validator nests the keywords that failed under wrappers for the schema
// and its properties. Where a value broke several, the one about its shape
// (type, length, required fields) is told before its pattern or format: an
// empty name is empty before it matches no pattern.
func leafSchemaError(se *openapi3.SchemaError) *openapi3.SchemaError {
	for {
		var causes openapi3.MultiError
		if !errors.As(se.Origin, &causes) {
			return se
		}
		var next *openapi3.SchemaError
		for _, c := range causes {
			var ce *openapi3.SchemaError
			if errors.As(c, &ce) && (next == nil || patternLike(next) && !patternLike(ce)) {
				next = ce
			}
		}
		if next == nil {
			return se
		}
		se = next
	}
}

func patternLike(se *openapi3.SchemaError) bool {
	return se.SchemaField == "pattern" || se.SchemaField == "format"
}

func describeRule(se *openapi3.SchemaError) string {
	s := se.Schema
	switch {
	case s == nil:
	case se.SchemaField == "minimum" && s.Min != nil:
		return fmt.Sprintf("must be at least %v", *s.Min)
	case se.SchemaField == "maximum" && s.Max != nil:
		return fmt.Sprintf("must be at most %v", *s.Max)
	case se.SchemaField == "maxItems" && s.MaxItems != nil:
		return fmt.Sprintf("must have at most %d items", *s.MaxItems)
	case (se.SchemaField == "pattern" || se.SchemaField == "format") && s.Extensions["x-pattern-rule"] != nil:
		// Every pattern has its rule in words (TestSpecPatterns), and
		// patternsAsFormats checks each as a format, with the format the
		// schema had (uuid, uri, date-time).
		return fmt.Sprint(s.Extensions["x-pattern-rule"])
	case se.SchemaField == "minLength" && s.MinLength == 1:
		return "must not be empty"
	case se.SchemaField == "minLength":
		return fmt.Sprintf("must be at least %d characters long", s.MinLength)
	case se.SchemaField == "maxLength" && s.MaxLength != nil:
		return fmt.Sprintf("must be at most %d characters long", *s.MaxLength)
	case se.SchemaField == "enum":
		return fmt.Sprintf("must be one of %s", enumList(s.Enum))
	case se.SchemaField == "type" && s.Type != nil:
		return "must be of type " + strings.Join(s.Type.Slice(), " or ")
	}
	reason := firstLine(se.Reason)
	if _, after, ok := strings.Cut(reason, "': "); ok && strings.HasPrefix(reason, "at '") {
		reason = after
	}
	return reason
}

func enumList(values []any) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
