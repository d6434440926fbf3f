// Package pgcluster runs a PostgreSQL server of the caller's own: initdb
// into a temp dir, pg_ctl on a free loopback port, stopped and started at
// will without touching any other server on the machine. The fault tests
// stop theirs mid-run; the benchmark preloads pg_stat_statements in its
// own, where nothing else runs to blur what it measures.
package pgcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/tidysupport/tidyhooks/internal/freeport"
)

// Bin is the newest installed PostgreSQL's server programs, as Debian lays
// them out (/usr/lib/postgresql/<version>/bin), the one .ci/run installs.
var Bin = func() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return va - vb
	})
	if len(dirs) == 0 {
		return "/usr/lib/postgresql/15/bin"
	}
	return dirs[len(dirs)-1]
}()

// Cluster is one initdb'd data directory and the server on it.
type Cluster struct {
	Dir  string // holds data/, the log and the socket
	Port int
	// Options are more server options (`-c name=value …`), given to
	// every start.
	Options string
	as      []string // runuser prefix when running as root (initdb refuses root)
}

// Init makes a cluster in a new temp dir on a free port below 32768 (so
// that Temporal, which keeps ports as SMALLINT, can share the range) and
// runs initdb; setup, when set, runs after initdb and returns more server
// options. Start starts it; Remove deletes it.
func Init(setup func(c *Cluster) (string, error)) (*Cluster, error) {
	if _, err := os.Stat(filepath.Join(Bin, "initdb")); err != nil {
		return nil, fmt.Errorf("pgcluster: PostgreSQL's server programs (initdb, pg_ctl) are needed at %s: %w", Bin, err)
	}
	dir, err := os.MkdirTemp("", "tidyhooks-pg")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir}
	if err := c.init(setup); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func (c *Cluster) init(setup func(c *Cluster) (string, error)) error {
	if os.Geteuid() == 0 {
		if err := c.ChownToServer(c.Dir); err != nil {
			return err
		}
		c.as = []string{"runuser", "-u", "postgres", "--"}
	}
	port, err := freeport.Block("127.0.0.1", 1)
	if err != nil {
		return err
	}
	c.Port = port
	if err := c.run(filepath.Join(Bin, "initdb"), "-D", filepath.Join(c.Dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8"); err != nil {
		return err
	}
	if setup != nil {
		opts, err := setup(c)
		if err != nil {
			return err
		}
		c.Options = opts
	}
	return nil
}

// ChownToServer gives path to the postgres user when the cluster runs as
// it (the caller is root): the server must own its data and its TLS key.
func (c *Cluster) ChownToServer(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("pgcluster: running as root needs a postgres user for initdb: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(path, uid, gid)
}

// command runs a PostgreSQL program as the user that owns the data.
func (c *Cluster) command(args ...string) *exec.Cmd {
	argv := append(append([]string{}, c.as...), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.Dir
	return cmd
}

func (c *Cluster) run(args ...string) error {
	if out, err := c.command(args...).CombinedOutput(); err != nil {
		return fmt.Errorf("pgcluster: %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Start starts the server and waits until it accepts connections: loopback
// only, fsync off (nothing here outlives a crash of the machine).
func (c *Cluster) Start() error {
	return c.run(filepath.Join(Bin, "pg_ctl"), "-D", filepath.Join(c.Dir, "data"), "-w", "-l", filepath.Join(c.Dir, "log"),
		"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 %s", c.Port, c.Dir, c.Options), "start")
}

// Stop stops the server (fast shutdown) and waits; one already stopped is
// no error.
func (c *Cluster) Stop() {
	_ = c.command(filepath.Join(Bin, "pg_ctl"), "-D", filepath.Join(c.Dir, "data"), "-m", "fast", "-w", "stop").Run()
}

// Remove stops the server and deletes its directory.
func (c *Cluster) Remove() error {
	c.Stop()
	return os.RemoveAll(c.Dir)
}

// URL is the postgres database's connection URL.
func (c *Cluster) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
}

// Postmaster is the running server's pid, from its postmaster.pid.
func (c *Cluster) Postmaster() (int, error) {
	raw, err := os.ReadFile(filepath.Join(c.Dir, "data", "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil {
		return 0, errors.New("pgcluster: postmaster.pid has no pid")
	}
	return pid, nil
}
