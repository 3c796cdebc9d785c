package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/accordchat/accord/discord"
	"github.com/gin-gonic/gin"
)

// maxBody is the largest JSON body accepted, as on Discord.
const maxBody = 1 << 20

// writeJSON writes v with status and exactly "application/json", which some
// clients compare literally.
func writeJSON(c *gin.Context, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"code": 0, "message": "500: Internal Server Error"}`)
	}
	c.Data(status, "application/json", body)
}

// writeError answers with a Discord error body and aborts the chain.
func writeError(c *gin.Context, e *discord.Error) {
	if e.Status == http.StatusServiceUnavailable && c.Writer.Header().Get("Retry-After") == "" {
		c.Header("Retry-After", "1")
	}
	writeJSON(c, e.Status, e)
	c.Abort()
}

// decodeJSON reads the request body into v. An empty body is accepted as {}
// when allowEmpty is set. Malformed JSON is 50109, a body over 1 MiB is 413
// 40005, and a value of the wrong type is 50035 naming its field. Unknown
// keys are ignored and null leaves an optional field unset, as on Discord.
func decodeJSON(c *gin.Context, v any, allowEmpty bool) *discord.Error {
	body, e := readBody(c)
	if e != nil {
		return e
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if allowEmpty {
			return nil
		}
		return discord.ErrInvalidJSON
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return typeError(typeErr)
		}
		return discord.ErrInvalidJSON
	}
	return nil
}

// readBody reads the request body, at most maxBody bytes (413 40005
// beyond), into a buffer sized by Content-Length.
func readBody(c *gin.Context) ([]byte, *discord.Error) {
	n := c.Request.ContentLength
	if n > maxBody {
		return nil, discord.ErrTooLarge
	}
	size := 512
	if n >= 0 {
		size = int(n) + 1 // room for the read that sees EOF
	}
	r := http.MaxBytesReader(c.Writer, c.Request.Body, maxBody)
	body := make([]byte, 0, size)
	for {
		if len(body) == cap(body) {
			body = append(body, 0)[:len(body)]
		}
		m, err := r.Read(body[len(body):cap(body)])
		body = body[:len(body)+m]
		if err == io.EOF { //nolint:errorlint // io.Reader returns io.EOF itself
			return body, nil
		}
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, discord.ErrTooLarge
			}
			return nil, discord.ErrInvalidJSON
		}
	}
}

// readJSONBody reads a body the grains decode themselves: checked to be
// JSON (50109 otherwise), nil when empty or null.
func readJSONBody(c *gin.Context) ([]byte, *discord.Error) {
	body, e := readBody(c)
	if e != nil {
		return nil, e
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return nil, nil
	}
	if !json.Valid(body) {
		return nil, discord.ErrInvalidJSON
	}
	return body, nil
}

func typeError(e *json.UnmarshalTypeError) *discord.Error {
	if e.Field == "" {
		// The body is JSON but not an object.
		return &discord.Error{Status: http.StatusBadRequest, Code: discord.CodeInvalidFormBody, Message: "Invalid Form Body"}
	}
	field := e.Field
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		field = field[i+1:]
	}
	switch e.Type.Kind().String() {
	case "string":
		return discord.Invalid(field, "BASE_TYPE_STRING", "Must be a string.")
	case "bool":
		return discord.Invalid(field, "BASE_TYPE_BOOLEAN", "Must be either true or false.")
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return discord.Invalid(field, "NUMBER_TYPE_COERCE", "Value is not a number.")
	default:
		return discord.Invalid(field, "BASE_TYPE_INVALID", "Invalid value.")
	}
}

// nullable is an optional JSON field that tells "absent" from "null", for
// fields where null means "clear".
type nullable[T any] struct {
	Set   bool // the key was present with a value
	Null  bool // the key was present as null
	Value T
}

func (n *nullable[T]) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		n.Null = true
		return nil
	}
	if err := json.Unmarshal(b, &n.Value); err != nil {
		return err
	}
	n.Set = true
	return nil
}
