package actors

import (
	"unicode/utf8"
)

// decodeCreateFast decodes the common shape of a message body without
// encoding/json, which costs ~2 µs of a send's CPU: a flat object whose keys
// are exactly "content", "nonce", "tts" or "enforce_nonce", with content and
// nonce as strings without escapes, control characters or invalid UTF-8, and
// the flags as true or false. It reports false, having possibly written to
// b, for anything else (other keys, keys spelled in another case, which
// encoding/json would match, escapes, null, numbers, nesting, malformed
// JSON): the caller then decodes the body with encoding/json into a fresh
// value. Where it reports true, the result is what json.Unmarshal gives
// (FuzzDecodeCreateFast checks it).
func decodeCreateFast(data []byte, b *createMessageBody) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		key, next, ok := plainString(data, i)
		if !ok {
			return false
		}
		i = skipSpace(data, next)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		i = skipSpace(data, i+1)
		switch string(key) {
		case "content":
			s, next, ok := plainString(data, i)
			if !ok {
				return false
			}
			content := string(s)
			b.Content, i = &content, next
		case "nonce":
			_, next, ok := plainString(data, i)
			if !ok {
				return false
			}
			b.Nonce, i = data[i:next:next], next
		case "tts", "enforce_nonce":
			v, next, ok := boolLiteral(data, i)
			if !ok {
				return false
			}
			if key[0] == 't' {
				b.TTS = v
			} else {
				b.EnforceNonce = v
			}
			i = next
		default:
			return false
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return skipSpace(data, i+1) == len(data)
		default:
			return false
		}
	}
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at data[i] that needs no unescaping: no
// backslash, no control character, valid UTF-8. It returns its contents and
// the index after the closing quote.
func plainString(data []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, 0, false
	}
	ascii := true
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			s = data[i+1 : j]
			if !ascii && !utf8.Valid(s) {
				return nil, 0, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, 0, false
}

// boolLiteral reads true or false at data[i].
func boolLiteral(data []byte, i int) (v bool, next int, ok bool) {
	switch {
	case len(data)-i >= 4 && string(data[i:i+4]) == "true":
		return true, i + 4, true
	case len(data)-i >= 5 && string(data[i:i+5]) == "false":
		return false, i + 5, true
	}
	return false, 0, false
}
