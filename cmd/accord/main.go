// Command accord is the Accord chat server: `accord serve` runs a node,
// `accord migrate` applies the database migrations, `accord admin` holds
// operator tasks, `accord cluster members` lists the cluster. main parses
// configuration and wires the parts; it owns no logic of its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `accord — a Discord-compatible chat server

Usage:
  accord serve   [flags]   run a node (see accord serve -h)
  accord migrate [flags]   apply database migrations and exit
  accord admin rotate-signing-key [flags]
                           start signing access tokens with a new key
  accord cluster members [--url URL] [--admin-token TOKEN] [--json]
                           list the cluster's members and the grains each hosts
`

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:])
	case "migrate":
		err = migrateCmd(ctx, args[1:])
	case "admin":
		err = adminCmd(ctx, args[1:])
	case "cluster":
		err = clusterCmd(ctx, args[1:], os.Stdout)
	case "-h", "--help", "help":
		_, _ = fmt.Fprint(os.Stdout, usage)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "accord: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "accord: %v\n", err)
		return 1
	}
	return 0
}
