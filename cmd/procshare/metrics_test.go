package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/procshare/procshare/manager"
)

// TestServeMetrics: --metrics-address serves the server's metrics in
// Prometheus's format and a health check.
func TestServeMetrics(t *testing.T) {
	addr, key, stderr := startServe(t, "--metrics-address", "127.0.0.1:0")
	var url string
	for deadline := time.Now().Add(20 * time.Second); url == ""; time.Sleep(5 * time.Millisecond) {
		if m := regexp.MustCompile(`metrics on (http://\S+)/metrics`).FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no metrics address in %q", stderr.String())
		}
	}
	ctx := context.Background()
	c, err := manager.Dial(ctx, addr, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.NewDict(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set(ctx, "k", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(ctx, "missing"); err == nil {
		t.Fatal("missing key found")
	}

	get := func(path string) (int, string) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	code, body := get("/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	value := func(series string) float64 {
		for _, line := range strings.Split(body, "\n") {
			if name, v, ok := strings.Cut(line, " "); ok && name == series {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s: %v", line, err)
				}
				return f
			}
		}
		t.Fatalf("no series %s in:\n%s", series, body)
		return 0
	}
	for series, least := range map[string]float64{
		`procshare_calls_total{method="create",outcome="ok",typeid=""}`:             1,
		`procshare_calls_total{method="__setitem__",outcome="ok",typeid="dict"}`:    1,
		`procshare_calls_total{method="__getitem__",outcome="error",typeid="dict"}`: 1,
		`procshare_call_duration_seconds_count{method="__setitem__",typeid="dict"}`: 1,
		`procshare_connections_total{outcome="ok"}`:                                 1,
		`procshare_objects`:             1,
		`procshare_open_connections`:    1,
		`procshare_memory_budget_bytes`: 1,
		`procshare_blocked_calls`:       0,
		`go_goroutines`:                 1,
	} {
		if v := value(series); v < least {
			t.Errorf("%s = %v, want at least %v", series, v, least)
		}
	}
}
