package rest_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestRegisterValidation(t *testing.T) {
	e := testEnv(t)
	long := strings.Repeat("x", 33)
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"missing username", map[string]any{"email": "a1@x.io", "password": "password1"}, "username"},
		{"short username", map[string]any{"username": "a", "email": "a2@x.io", "password": "password1"}, "username"},
		{"long username", map[string]any{"username": long, "email": "a3@x.io", "password": "password1"}, "username"},
		{"username with #", map[string]any{"username": "a#b", "email": "a4@x.io", "password": "password1"}, "username"},
		{"bad email", map[string]any{"username": "valid", "email": "not-an-email", "password": "password1"}, "email"},
		{"short password", map[string]any{"username": "valid", "email": "a5@x.io", "password": "short"}, "password"},
		{"null password", map[string]any{"username": "valid", "email": "a6@x.io", "password": nil}, "password"},
		{"number username", map[string]any{"username": 12, "email": "a7@x.io", "password": "password1"}, "username"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := expect(t, e.do(t, "POST", "/api/auth/register", "", tc.body), 400, 50035)
			errs, _ := r.body["errors"].(map[string]any)
			if _, ok := errs[tc.field]; !ok {
				t.Fatalf("no error for %s: %s", tc.field, r.raw)
			}
		})
	}
	// Nothing was written by the failures.
	var n int
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM users WHERE email LIKE 'a_@x.io'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d users written by invalid registrations (%v)", n, err)
	}
}

func TestMalformedBodies(t *testing.T) {
	e := testEnv(t)
	expect(t, e.do(t, "POST", "/api/auth/register", "", `{"username": "x",`), 400, 50109)
	expect(t, e.do(t, "POST", "/api/auth/login", "", `not json`), 400, 50109)
	expect(t, e.do(t, "POST", "/api/auth/login", "", ``), 400, 50109)
	big := `{"username":"` + strings.Repeat("a", 1<<20) + `"}`
	expect(t, e.do(t, "POST", "/api/auth/register", "", big), 413, 40005)
	// Unknown keys are ignored.
	a := e.register(t)
	expect(t, e.do(t, "POST", "/api/auth/login", "", map[string]any{"login": a.email, "password": a.password, "undelete": true, "gift_code_sku_id": nil}), 200, -1)
}

func TestDuplicateEmail(t *testing.T) {
	e := testEnv(t)
	a := e.register(t)
	r := expect(t, e.do(t, "POST", "/api/auth/register", "", map[string]string{
		"username": "someone", "email": strings.ToUpper(a.email), "password": "password1"}), 400, 50035)
	if !strings.Contains(r.raw, "EMAIL_ALREADY_REGISTERED") {
		t.Fatalf("duplicate email: %s", r.raw)
	}
}

func TestLoginForms(t *testing.T) {
	e := testEnv(t)
	a := e.register(t)
	for _, login := range []string{a.email, strings.ToUpper(a.email), a.username + "#" + a.discriminator, a.username} {
		expect(t, e.do(t, "POST", "/api/auth/login", "", map[string]string{"login": login, "password": a.password}), 200, -1)
	}
	wrong := expect(t, e.do(t, "POST", "/api/auth/login", "", map[string]string{"login": a.email, "password": "wrong-password"}), 400, 50035)
	unknown := expect(t, e.do(t, "POST", "/api/auth/login", "", map[string]string{"login": "ghost@example.com", "password": "wrong-password"}), 400, 50035)
	if wrong.raw != unknown.raw {
		t.Fatalf("a wrong password and an unknown user answer differently:\n%s\n%s", wrong.raw, unknown.raw)
	}
	// Two accounts with one name: the bare name no longer identifies one.
	r := expect(t, e.do(t, "POST", "/api/auth/register", "", map[string]string{
		"username": a.username, "email": "twin-" + a.email, "password": a.password}), 201, -1)
	if r.body["user"].(map[string]any)["discriminator"] == a.discriminator {
		t.Fatal("same username got the same discriminator")
	}
	expect(t, e.do(t, "POST", "/api/auth/login", "", map[string]string{"login": a.username, "password": a.password}), 400, 50035)
}

func TestUnknownRoutes(t *testing.T) {
	e := testEnv(t)
	a := e.register(t)
	for _, auth := range []string{"", "Bearer " + a.access} {
		r := expect(t, e.do(t, "GET", "/api/v10/nope", auth, nil), 404, 0)
		if r.body["message"] != "404: Not Found" {
			t.Fatalf("unknown route: %s", r.raw)
		}
	}
	expect(t, e.do(t, "DELETE", "/api/v10/users/@me", "", nil), 405, 0)
}

func TestAuthorizationForms(t *testing.T) {
	e := testEnv(t)
	a := e.register(t)
	for _, mount := range []string{"/api", "/api/v9", "/api/v10"} {
		for _, auth := range []string{"Bearer " + a.access, "Bot " + a.access, a.access} {
			r := expect(t, e.do(t, "GET", mount+"/users/@me", auth, nil), 200, -1)
			if r.body["id"] != a.id || r.body["email"] != a.email || r.body["verified"] != false {
				t.Fatalf("@me: %s", r.raw)
			}
		}
	}
	other := e.register(t)
	r := expect(t, e.do(t, "GET", "/api/v10/users/"+other.id, "Bearer "+a.access, nil), 200, -1)
	if _, leaked := r.body["email"]; leaked || r.body["username"] != other.username {
		t.Fatalf("GET /users/{id}: %s", r.raw)
	}
	expect(t, e.do(t, "GET", "/api/v10/users/12345", "Bearer "+a.access, nil), 404, 10013)
	expect(t, e.do(t, "GET", "/api/v10/users/@me", "", nil), 401, 0)
}

// TestRejectedTokens crafts the tokens an attacker would try.
func TestRejectedTokens(t *testing.T) {
	e := testEnv(t)
	a := e.register(t)
	key, _ := e.keys.SigningKey()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	now := time.Now().Unix()
	claims := func(mod func(map[string]any)) map[string]any {
		parts := strings.Split(a.access, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
		c := map[string]any{}
		_ = json.Unmarshal(raw, &c)
		mod(c)
		return c
	}
	ed := func(h, c map[string]any) string {
		in := enc(h) + "." + enc(c)
		return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(key.Private, []byte(in)))
	}
	hs := func(h, c map[string]any, secret []byte) string {
		in := enc(h) + "." + enc(c)
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	edHeader := map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": key.ID}
	same := func(map[string]any) {}
	parts := strings.Split(a.access, ".")
	cases := map[string]string{
		"control (valid re-signed)": "",
		"alg none":                  enc(map[string]any{"alg": "none", "typ": "JWT", "kid": key.ID}) + "." + enc(claims(same)) + ".",
		"HS256 with public key":     hs(map[string]any{"alg": "HS256", "typ": "JWT", "kid": key.ID}, claims(same), key.Public),
		"wrong typ":                 ed(edHeader, claims(func(c map[string]any) { c["typ"] = "refresh" })),
		"wrong aud":                 ed(edHeader, claims(func(c map[string]any) { c["aud"] = "someone-else" })),
		"expired":                   ed(edHeader, claims(func(c map[string]any) { c["exp"] = now - 60; c["iat"] = now - 1000 })),
		"tampered payload":          parts[0] + "." + enc(claims(func(c map[string]any) { c["sub"] = "1" })) + "." + parts[2],
		"tampered signature":        parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"unknown kid":               ed(map[string]any{"alg": "EdDSA", "typ": "JWT", "kid": "0000000000000000"}, claims(same)),
		"garbage":                   "not.a.jwt",
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if tok == "" {
				expect(t, e.do(t, "GET", "/api/v10/users/@me", "Bearer "+ed(edHeader, claims(same)), nil), 200, -1)
				return
			}
			expect(t, e.do(t, "GET", "/api/v10/users/@me", "Bearer "+tok, nil), 401, 0)
		})
	}
}

func TestRefreshReuseRevokesFamily(t *testing.T) {
	e := testEnv(t)
	a := e.register(t)
	r := expect(t, e.do(t, "POST", "/api/auth/refresh", "", map[string]string{"refresh_token": a.refresh}), 200, -1)
	access2, refresh2 := r.body["access_token"].(string), r.body["refresh_token"].(string)
	expect(t, e.do(t, "GET", "/api/v10/users/@me", "Bearer "+access2, nil), 200, -1)
	expect(t, e.do(t, "POST", "/api/auth/refresh", "", map[string]string{"refresh_token": a.refresh}), 401, 0)
	expect(t, e.do(t, "POST", "/api/auth/refresh", "", map[string]string{"refresh_token": refresh2}), 401, 0)
	waitUnauthorized(t, e, access2)
	expect(t, e.do(t, "POST", "/api/auth/refresh", "", map[string]string{"refresh_token": "made-up"}), 401, 0)
	expect(t, e.do(t, "POST", "/api/auth/refresh", "", map[string]string{}), 400, 50035)
}

func waitUnauthorized(t *testing.T, e *env, access string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for e.do(t, "GET", "/api/v10/users/@me", "Bearer "+access, nil).status != 401 {
		if time.Now().After(deadline) {
			t.Fatal("revoked access token still accepted after 5 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLogout(t *testing.T) {
	e := testEnv(t)
	a := e.register(t)
	second := expect(t, e.do(t, "POST", "/api/auth/login", "", map[string]string{"login": a.email, "password": a.password}), 200, -1)
	access2 := second.body["access_token"].(string)
	// Plain logout ends only the caller's login.
	expect(t, e.do(t, "POST", "/api/auth/logout", "Bearer "+a.access, map[string]any{}), 204, -1)
	waitUnauthorized(t, e, a.access)
	expect(t, e.do(t, "GET", "/api/v10/users/@me", "Bearer "+access2, nil), 200, -1)
	expect(t, e.do(t, "POST", "/api/auth/refresh", "", map[string]string{"refresh_token": a.refresh}), 401, 0)
	// Logout all ends the rest.
	third := expect(t, e.do(t, "POST", "/api/auth/login", "", map[string]string{"login": a.email, "password": a.password}), 200, -1)
	expect(t, e.do(t, "POST", "/api/auth/logout", "Bearer "+access2, map[string]any{"all": true}), 204, -1)
	waitUnauthorized(t, e, access2)
	waitUnauthorized(t, e, third.body["access_token"].(string))
	expect(t, e.do(t, "POST", "/api/auth/logout", "", map[string]any{}), 401, 0)
}

func TestPatchMe(t *testing.T) {
	e := testEnv(t)
	a := e.register(t)
	other := expect(t, e.do(t, "POST", "/api/auth/login", "", map[string]string{"login": a.email, "password": a.password}), 200, -1)
	auth := "Bearer " + a.access

	r := expect(t, e.do(t, "PATCH", "/api/v10/users/@me", auth, map[string]any{"global_name": "Ada L."}), 200, -1)
	if r.body["global_name"] != "Ada L." {
		t.Fatalf("global_name: %s", r.raw)
	}
	r = expect(t, e.do(t, "PATCH", "/api/v10/users/@me", auth, map[string]any{"global_name": nil}), 200, -1)
	if r.body["global_name"] != nil {
		t.Fatalf("global_name not cleared: %s", r.raw)
	}
	newName := a.username + "x"
	r = expect(t, e.do(t, "PATCH", "/api/v10/users/@me", auth, map[string]any{"username": newName}), 200, -1)
	if r.body["username"] != newName {
		t.Fatalf("rename: %s", r.raw)
	}
	if got := expect(t, e.do(t, "GET", "/api/v10/users/@me", auth, nil), 200, -1); got.body["username"] != newName {
		t.Fatalf("rename not visible: %s", got.raw)
	}
	expect(t, e.do(t, "PATCH", "/api/v10/users/@me", auth, map[string]any{"username": "x"}), 400, 50035)

	// A password change needs the current password and ends other logins.
	expect(t, e.do(t, "PATCH", "/api/v10/users/@me", auth, map[string]any{"new_password": "brand-new-pass"}), 400, 50035)
	r = expect(t, e.do(t, "PATCH", "/api/v10/users/@me", auth, map[string]any{"password": "wrong-password", "new_password": "brand-new-pass"}), 400, 50035)
	if !strings.Contains(r.raw, "PASSWORD_DOES_NOT_MATCH") {
		t.Fatalf("wrong current password: %s", r.raw)
	}
	expect(t, e.do(t, "PATCH", "/api/v10/users/@me", auth, map[string]any{"password": a.password, "new_password": "brand-new-pass"}), 200, -1)
	waitUnauthorized(t, e, other.body["access_token"].(string))
	expect(t, e.do(t, "GET", "/api/v10/users/@me", auth, nil), 200, -1)
	expect(t, e.do(t, "POST", "/api/auth/login", "", map[string]string{"login": a.email, "password": a.password}), 400, 50035)
	expect(t, e.do(t, "POST", "/api/auth/login", "", map[string]string{"login": a.email, "password": "brand-new-pass"}), 200, -1)
}

func TestHealth(t *testing.T) {
	e := testEnv(t)
	expect(t, e.do(t, "GET", "/livez", "", nil), 200, -1)
	expect(t, e.do(t, "GET", "/readyz", "", nil), 200, -1)
	r := e.do(t, "GET", "/metrics", "", nil)
	if r.status != 200 || !strings.Contains(r.raw, "accord_http_requests_total") {
		t.Fatalf("/metrics: %d %.200s", r.status, r.raw)
	}
}
