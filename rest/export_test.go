package rest

// RouteForTest is one entry of the guild route table, as the external tests
// see it.
type RouteForTest struct{ Method, Path, Op string }

// GuildRoutesForTest is guildRoutes, for the authorization matrix test
// (authz_matrix_test.go), which fails on any route it has no row for.
var GuildRoutesForTest = func() []RouteForTest {
	out := make([]RouteForTest, len(guildRoutes))
	for i, r := range guildRoutes {
		out[i] = RouteForTest{Method: r.method, Path: r.path, Op: r.op}
	}
	return out
}()
