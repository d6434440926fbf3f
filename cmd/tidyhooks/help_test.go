package main

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// Every command answers -h/--help with its help and exit status 0, even
// when the environment it would run with is wrong.
func TestHelp(t *testing.T) {
	badEnv := func(name string) string {
		if name == "TIDYHOOKS_LOG_LEVEL" {
			return "loud"
		}
		return ""
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"api", "--help"}, "usage: tidyhooks api"},
		{[]string{"worker", "-h"}, "usage: tidyhooks worker"},
		{[]string{"dev", "--help"}, "-temporal-only"},
		{[]string{"keys", "--help"}, "tidyhooks keys create"},
		{[]string{"migrate", "--help"}, "usage: tidyhooks migrate"},
		{[]string{"receive", "-h"}, "-secret"},
		{[]string{"help"}, "commands:"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), tt.args, badEnv, &out, &out)
			if err != nil && !errors.Is(err, errHelp) {
				t.Fatalf("err = %v, want help", err)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("output lacks %q:\n%s", tt.want, out.String())
			}
		})
	}
	// The binary exits 0.
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"api", "--help"}, {"dev", "--help"}} {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"TIDYHOOKS_LOG_LEVEL=loud"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("tidyhooks %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
