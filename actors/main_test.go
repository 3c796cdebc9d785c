package actors

import (
	"os"
	"testing"

	"github.com/accordchat/accord/persistence/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
