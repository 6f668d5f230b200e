package examples_test

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/testenv"
	"github.com/quaver-dev/quaver/internal/testserver"
)

// script is one example our users copy: run with the real interpreter, as
// they would run it.
type script struct {
	name, interpreter, file string
}

var scripts = []script{
	{"python", "python3", "python/trigger.py"},
	{"php", "php", "php/trigger.php"},
}

// TestTriggerWithArguments runs each script with the server URL and app
// credentials from the environment and channel, event and data as
// arguments, and checks a subscriber gets exactly that event once. The data
// has quotes, a slash and non-ASCII letters, which PHP and Python escape
// differently in JSON: the signature covers the body MD5, so it must be the
// body actually sent.
func TestTriggerWithArguments(t *testing.T) {
	srv := testserver.Start(t)
	channel := "private-orders.42"
	sub := subscribe(t, srv, testserver.AppKey, testserver.AppSecret, channel)
	api := &client.API{BaseURL: srv.URL, AppID: testserver.AppID, Key: testserver.AppKey, Secret: testserver.AppSecret}
	env := []string{
		"QUAVER_URL=" + srv.URL,
		"QUAVER_APP_ID=" + testserver.AppID,
		"QUAVER_APP_KEY=" + testserver.AppKey,
		"QUAVER_APP_SECRET=" + testserver.AppSecret,
	}
	for _, s := range scripts {
		t.Run(s.name, func(t *testing.T) {
			event := "App\\Events\\OrderShipped"
			data := `{"order":42,"note":"café ✓ \"fragile\" </b> from ` + s.name + `"}`
			out, err := s.run(t, env, channel, event, data)
			if err != nil {
				t.Fatalf("%s exited with %v; output:\n%s", s.file, err, out)
			}
			if !strings.Contains(out, "{}") {
				t.Errorf("output does not show the server's answer {}:\n%s", out)
			}
			expectOnly(t, sub, api, channel, event, data)
		})
	}
}

// TestTriggerWithDefaults runs each script configured the way the README's
// quick start does: only the port in the environment, everything else from
// the environment variables for channel, event and data, and the
// credentials left at their defaults, which must be the development app
// that `quaver start` serves without configuration.
func TestTriggerWithDefaults(t *testing.T) {
	srv := testserver.Start(t, func(c *config.Config) {
		c.Apps = []config.App{{ID: config.DevAppID, Key: config.DevAppKey, Secret: config.DevAppSecret}}
	})
	channel := "orders"
	sub := subscribe(t, srv, config.DevAppKey, config.DevAppSecret, channel)
	api := &client.API{BaseURL: srv.URL, AppID: config.DevAppID, Key: config.DevAppKey, Secret: config.DevAppSecret}
	for _, s := range scripts {
		t.Run(s.name, func(t *testing.T) {
			event, data := "status-changed", "plain text, not JSON, from "+s.name
			env := []string{
				"QUAVER_HOST=127.0.0.1",
				"QUAVER_PORT=" + strconv.Itoa(srv.Port),
				"QUAVER_CHANNEL=" + channel,
				"QUAVER_EVENT=" + event,
				"QUAVER_DATA=" + data,
			}
			out, err := s.run(t, env)
			if err != nil {
				t.Fatalf("%s exited with %v; output:\n%s", s.file, err, out)
			}
			expectOnly(t, sub, api, channel, event, data)
		})
	}
}

// TestTriggerFailures checks that a script whose request is refused or
// cannot be sent says why and exits non-zero, so a deploy script notices,
// and that nothing was delivered.
func TestTriggerFailures(t *testing.T) {
	srv := testserver.Start(t)
	channel := "orders"
	sub := subscribe(t, srv, testserver.AppKey, testserver.AppSecret, channel)
	api := &client.API{BaseURL: srv.URL, AppID: testserver.AppID, Key: testserver.AppKey, Secret: testserver.AppSecret}
	closedURL := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) // nothing listens there
	cases := []struct {
		name, url, secret, want string
	}{
		{"wrong secret", srv.URL, "not-the-secret", "401"},
		{"server down", closedURL, testserver.AppSecret, "cannot reach " + closedURL},
	}
	for _, s := range scripts {
		for _, c := range cases {
			t.Run(s.name+"/"+c.name, func(t *testing.T) {
				env := []string{
					"QUAVER_URL=" + c.url,
					"QUAVER_APP_ID=" + testserver.AppID,
					"QUAVER_APP_KEY=" + testserver.AppKey,
					"QUAVER_APP_SECRET=" + c.secret,
				}
				out, err := s.run(t, env, channel, "refused", "{}")
				var exit *exec.ExitError
				if !errors.As(err, &exit) || exit.ExitCode() == 0 {
					t.Fatalf("%s: want a non-zero exit, got %v; output:\n%s", s.file, err, out)
				}
				if !strings.Contains(out, c.want) {
					t.Errorf("output does not mention %q:\n%s", c.want, out)
				}
				// The sentinel arriving first proves the refused event
				// was not delivered.
				expectOnly(t, sub, api, channel, "", "")
			})
		}
	}
}

// run executes the script with env added to a copy of the process
// environment without any QUAVER_ or REVERB_ setting of the developer's
// own, and returns stdout and stderr together.
func (s script) run(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath(s.interpreter)
	if err != nil {
		t.Fatalf("%s is required (./scripts/test-deps.sh installs it): %v", s.interpreter, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append([]string{s.file}, args...)...)
	cmd.Env = testenv.Environ(env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// subscribe connects a Go client and subscribes it to channel.
func subscribe(t *testing.T, srv *testserver.Server, key, secret, channel string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{URL: srv.WSURL, Key: key, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if _, err := c.SubscribeAndWait(ctx, channel, client.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	return c
}

// expectOnly checks that the next events sub receives on channel are the
// one given (none when event is empty) and then a sentinel triggered here
// afterwards, so a duplicate or a stray event fails the test.
func expectOnly(t *testing.T, sub *client.Client, api *client.API, channel, event, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := api.Trigger(ctx, client.TriggerEvent{Name: "sentinel", Channel: channel, Data: "end"}); err != nil {
		t.Fatalf("trigger sentinel: %v", err)
	}
	next := func() client.Event {
		t.Helper()
		e, err := sub.NextMatching(ctx, func(e client.Event) bool { return !strings.HasPrefix(e.Event, "pusher:") })
		if err != nil {
			t.Fatalf("waiting for an event on %s: %v", channel, err)
		}
		return e
	}
	if event != "" {
		got := next()
		if got.Event != event || got.Channel != channel || got.DataString() != data {
			t.Fatalf("subscriber got event %q on %q with data %q\nwant event %q on %q with data %q",
				got.Event, got.Channel, got.DataString(), event, channel, data)
		}
	}
	if got := next(); got.Event != "sentinel" {
		t.Fatalf("subscriber got event %q on %q with data %q, want only the sentinel next", got.Event, got.Channel, got.DataString())
	}
}
