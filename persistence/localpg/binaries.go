package localpg

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// debianBinGlob is where Debian and Ubuntu install each PostgreSQL major version's server
// binaries. A variable so tests can point it at an empty directory.
var debianBinGlob = "/usr/lib/postgresql/*/bin"

// binaries is a directory holding initdb, pg_ctl and postgres of one major version.
type binaries struct {
	dir   string
	major int
}

func (b binaries) path(name string) string { return filepath.Join(b.dir, name) }

var requiredBinaries = []string{"initdb", "pg_ctl", "postgres"}

// findBinaries picks the server binaries: binDir if set, else the directory of pg_ctl on
// PATH, then debianBinGlob newest first. For an existing cluster (clusterMajor > 0) it
// picks the binaries of that major version, since PostgreSQL cannot open another major's
// data directory.
func findBinaries(ctx context.Context, binDir string, clusterMajor int) (binaries, error) {
	var candidates []string
	if binDir != "" {
		if !hasBinaries(binDir) {
			return binaries{}, fmt.Errorf("localpg: BinDir %s lacks initdb, pg_ctl or postgres: %w", binDir, ErrNoBinaries)
		}
		candidates = []string{binDir}
	} else {
		candidates = candidateDirs()
		if len(candidates) == 0 {
			return binaries{}, ErrNoBinaries
		}
	}
	var seen []int
	for _, dir := range candidates {
		major, err := majorVersion(ctx, dir)
		if err != nil {
			return binaries{}, err
		}
		if clusterMajor == 0 || major == clusterMajor {
			return binaries{dir: dir, major: major}, nil
		}
		seen = append(seen, major)
	}
	return binaries{}, fmt.Errorf("localpg: the cluster was created by PostgreSQL %d but only PostgreSQL %v server binaries were found (%s): install postgresql-%d or upgrade the cluster with pg_upgrade",
		clusterMajor, seen, strings.Join(candidates, ", "), clusterMajor)
}

// candidateDirs lists directories holding all required binaries, PATH first, then the
// Debian layout by descending version, without duplicates.
func candidateDirs() []string {
	var dirs []string
	add := func(dir string) {
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real
		}
		if !slices.Contains(dirs, dir) && hasBinaries(dir) {
			dirs = append(dirs, dir)
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		// Resolve symlinks such as /usr/local/bin/pg_ctl -> /usr/lib/postgresql/15/bin/pg_ctl:
		// initdb and postgres must come from the same installation.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		add(filepath.Dir(p))
	}
	matches, _ := filepath.Glob(debianBinGlob) // the pattern is constant and valid
	slices.SortFunc(matches, func(a, b string) int {
		return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
	})
	for _, m := range matches {
		add(m)
	}
	return dirs
}

func hasBinaries(dir string) bool {
	for _, name := range requiredBinaries {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return false
		}
	}
	return true
}

// compareVersions orders dotted version strings such as "9.6" < "15" < "16.1" numerically.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x - y
		}
	}
	return strings.Compare(a, b)
}

var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)(?:\.(\d+))?`)

// majorVersion runs `postgres --version` ("postgres (PostgreSQL) 15.18 (Debian ...)").
// Before PostgreSQL 10 the major version had two parts (9.6); those report 9.
func majorVersion(ctx context.Context, dir string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(dir, "postgres"), "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("localpg: %s --version: %w", filepath.Join(dir, "postgres"), err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("localpg: cannot parse %q from %s --version", strings.TrimSpace(string(out)), filepath.Join(dir, "postgres"))
	}
	return strconv.Atoi(string(m[1]))
}
