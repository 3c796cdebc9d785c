package persistence_test

import (
	"context"
	"os"
	"testing"

	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/persistence/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// newStore opens a migrated store on a fresh database.
func newStore(t *testing.T) *persistence.Store {
	t.Helper()
	s, err := persistence.Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}
