package actors

import (
	"encoding/json"
	"reflect"
	"testing"
)

var createBodies = []string{
	``,
	`{}`,
	` { } `,
	`{"content":"hello"}`,
	"\t{ \"content\" : \"héllo wörld\" ,\n \"tts\":true, \"nonce\":\"123\", \"enforce_nonce\":false }\r\n",
	`{"content":"a","content":"b"}`,
	`{"content":"x","nonce":"n1","enforce_nonce":true}`,
	`{"content":"with \"escape\""}`,
	`{"Content":"case"}`,
	`{"content":null}`,
	`{"content":"x","nonce":12345}`,
	`{"content":"x","embeds":[]}`,
	`{"content":"x","tts":1}`,
	`{"content":"x",}`,
	`{"content":"x"} {}`,
	`{"content":"x"`,
	`{"content":"x" "tts":true}`,
	`{"tts":truex}`,
	`{"content":"` + "\x01" + `"}`,
	`{"content":"` + "\xff" + `"}`,
	`[]`,
	`"content"`,
	`{"content":"x","tts":false,"tts":true}`,
}

// TestDecodeCreateFast checks the fast path takes the common bodies and
// agrees with encoding/json where it takes one.
func TestDecodeCreateFast(t *testing.T) {
	fast := map[string]bool{
		`{}`: true, ` { } `: true, `{"content":"hello"}`: true, `{"content":"a","content":"b"}`: true,
		`{"content":"x","nonce":"n1","enforce_nonce":true}`: true, `{"content":"x","tts":false,"tts":true}`: true,
		"\t{ \"content\" : \"héllo wörld\" ,\n \"tts\":true, \"nonce\":\"123\", \"enforce_nonce\":false }\r\n": true,
	}
	for _, in := range createBodies {
		var got createMessageBody
		ok := decodeCreateFast([]byte(in), &got)
		if ok != fast[in] {
			t.Errorf("decodeCreateFast(%q) = %v, want %v", in, ok, fast[in])
		}
		if ok {
			checkCreateBody(t, in, got)
		}
	}
}

func FuzzDecodeCreateFast(f *testing.F) {
	for _, in := range createBodies {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var got createMessageBody
		if decodeCreateFast([]byte(in), &got) {
			checkCreateBody(t, in, got)
		}
	})
}

func checkCreateBody(t *testing.T, in string, got createMessageBody) {
	t.Helper()
	var want createMessageBody
	if err := json.Unmarshal([]byte(in), &want); err != nil {
		t.Fatalf("fast path took %q, which encoding/json refuses: %v", in, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: fast path gave %+v, encoding/json %+v", in, got, want)
	}
}
