package actors

import (
	"encoding/json"
	"testing"
)

// plainBody may only say yes to bodies that decode to no mention and no
// allowed_mentions; the decoded check has the last word on the others.
func TestPlainBody(t *testing.T) {
	for _, tc := range []struct {
		body  string
		plain bool
	}{
		{`{"content":"hello there"}`, true},
		{`{"content":"Allowed mentions are fine as words"}`, true},
		{``, true},
		{`{"content":"hi <@123>"}`, false},
		{`{"content":"hi @everyone"}`, false},
		{`{"content":"hi \u0040everyone"}`, false},
		{`{"content":"hi","allowed_mentions":{"parse":[]}}`, false},
		{`{"content":"hi","ALLOWED_MENTIONS":{"parse":[]}}`, false},
		{`{"content":"hi","allowed_mention\u0073":{"parse":[]}}`, false},
		{"{\"content\":\"hi\",\"allowed_mention\u017f\":{\"parse\":[]}}", false}, // ſ folds to s
		{`{"content":"héllo"}`, false},
	} {
		if got := plainBody([]byte(tc.body)); got != tc.plain {
			t.Errorf("plainBody(%s) = %v, want %v", tc.body, got, tc.plain)
		}
		if tc.plain && tc.body != "" {
			var b authorizeBody
			if err := json.Unmarshal([]byte(tc.body), &b); err != nil || !b.mentionFree() || b.AllowedMentions != nil {
				t.Errorf("%s: called plain, but decodes to %+v (%v)", tc.body, b, err)
			}
		}
	}
	// The folded key really is allowed_mentions to encoding/json.
	var b authorizeBody
	if err := json.Unmarshal([]byte("{\"allowed_mention\u017f\":{\"parse\":[]}}"), &b); err != nil || b.AllowedMentions == nil {
		t.Fatalf("folded key: %+v %v", b, err)
	}
}
