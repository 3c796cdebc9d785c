package rest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// The message routes read their bodies without decoding them (the grains
// do): malformed JSON, oversized and empty bodies still get Discord's
// answers.
func TestMessageBodyReading(t *testing.T) {
	e := testEnv(t)
	owner := e.register(t)
	g := e.createGuild(t, owner, "Bodies")
	path := "/api/v10/channels/" + g.general + "/messages"

	expect(t, e.do(t, "POST", path, auth(owner), `{"content": "x",`), 400, 50109)
	expect(t, e.do(t, "POST", path, auth(owner), `{"content": "x"} trailing`), 400, 50109)
	expect(t, e.do(t, "POST", path, auth(owner), `null`), 400, 50006)
	expect(t, e.do(t, "POST", path, auth(owner), ``), 400, 50006)
	expect(t, e.do(t, "POST", path, auth(owner), `[1, 2]`), 400, 50035)
	expect(t, e.do(t, "POST", path, auth(owner), " \n{\"content\": \"spaced\"}\n "), 200, -1)
	big := `{"content": "` + strings.Repeat("x", 1<<20) + `"}`
	expect(t, e.do(t, "POST", path, auth(owner), big), 413, 40005)

	// Without a Content-Length (chunked), the limit still holds.
	req, _ := http.NewRequest("POST", e.url+path, io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth(owner))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 413 {
		t.Fatalf("chunked oversized body: status %d, want 413", res.StatusCode)
	}
	req, _ = http.NewRequest("POST", e.url+path, io.MultiReader(strings.NewReader(`{"content": "chunked"}`)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", auth(owner))
	if res, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("chunked body: status %d, want 200", res.StatusCode)
	}
}
