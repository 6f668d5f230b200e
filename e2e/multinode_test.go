package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/internal/testnode"
	"github.com/quaver-dev/quaver/internal/testserver"
)

// cluster is several real quaver processes sharing a Redis, and a driver
// with one SDK per node ("n0", "n1", ...). It embeds the single-node
// harness, whose helpers work on any node through the "port" and "sdk"
// arguments.
type cluster struct {
	*harness
	nodes []*testnode.Node
}

// startCluster runs n nodes with the given scaling arguments (e.g.
// --redis-url) and environment.
func startCluster(t *testing.T, n int, redisArgs []string, env ...string) *cluster {
	t.Helper()
	c := &cluster{}
	for range n {
		c.nodes = append(c.nodes, testnode.Start(t, testnode.Options{Args: redisArgs, Env: env}))
	}
	first := c.nodes[0]
	c.harness = &harness{t: t, srv: &testserver.Server{Host: first.Host, Port: first.Port, URL: first.URL, WSURL: first.WSURL}}
	c.d = jsdriver.Start(t)
	for i, node := range c.nodes {
		c.d.Call("createSdk", args{
			"name": "n" + strconv.Itoa(i), "appId": testnode.AppID, "key": testnode.AppKey, "secret": testnode.AppSecret,
			"host": node.Host, "port": node.Port, "encryptionMasterKeyBase64": masterKey,
		})
	}
	c.sdk("default", testnode.AppID, testnode.AppKey, testnode.AppSecret)
	return c
}

// on creates a client connected to node i and waits until it is connected.
func (c *cluster) on(i int, name, lib string, extra args) string {
	c.t.Helper()
	a := args{"port": c.nodes[i].Port, "sdk": "n" + strconv.Itoa(i)}
	for k, v := range extra {
		a[k] = v
	}
	return c.connect(name, lib, a)
}

// via runs an SDK command against node i.
func (c *cluster) via(i int, command string, a args) sdkResult {
	c.t.Helper()
	a["sdk"] = "n" + strconv.Itoa(i)
	return c.call(command, a)
}

// channelInfo asks node i for a channel's occupancy.
func (c *cluster) channelInfo(i int, channel string) (occupied bool, users, subs int) {
	c.t.Helper()
	res := c.via(i, "sdk.get", args{"path": "/channels/" + channel, "params": args{"info": "user_count,subscription_count"}})
	var info struct {
		Occupied          bool `json:"occupied"`
		UserCount         int  `json:"user_count"`
		SubscriptionCount int  `json:"subscription_count"`
	}
	if res.Status != 200 || json.Unmarshal(res.Body, &info) != nil {
		c.t.Fatalf("channel info from node %d: %d %s", i, res.Status, res.Body)
	}
	return info.Occupied, info.UserCount, info.SubscriptionCount
}

func redisURLArgs(r *redistest.Server) []string { return []string{"--redis-url", r.URL()} }

// Three nodes behave as one: events from any node reach every subscriber on
// every node exactly once, in order, socket_id exclusion holds across
// nodes, client events cross nodes, and the HTTP API answers for the whole
// cluster from any node.
func TestClusterFanOut(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, redisURLArgs(redistest.Start(t)))
	sockets := map[string]string{}
	for i, lib := range []string{"echo-reverb", "pusher-js", "echo-pusher"} {
		name := "c" + strconv.Itoa(i)
		sockets[name] = c.on(i, name, lib, nil)
		if lib == "pusher-js" {
			c.subscribe(name, "private-orders")
		} else {
			c.echoSubscribe(name, "private", "orders")
			c.d.Call("echoListen", args{"client": name, "kind": "private", "channel": "orders", "event": ".shipped"})
			c.d.Call("echoListenForWhisper", args{"client": name, "kind": "private", "channel": "orders", "event": "typing"})
		}
	}
	received := func(client string, seq int) func(jsdriver.Report) bool {
		return func(r jsdriver.Report) bool {
			return r.Client == client && r.Channel == "private-orders" &&
				(r.Type == "listen" && r.Event == ".shipped" || r.Type == "event" && r.Event == "shipped") &&
				strings.Contains(string(r.Data), fmt.Sprintf(`"seq":%d}`, seq))
		}
	}

	// 30 events through node 1, in order, to subscribers on all three.
	for seq := range 30 {
		c.via(1, "sdk.trigger", args{"channels": []string{"private-orders"}, "event": "shipped", "data": args{"seq": seq}})
	}
	for _, client := range []string{"c0", "c1", "c2"} {
		last := -1
		for seq := range 30 {
			r := c.d.Wait(fmt.Sprintf("%s gets seq %d", client, seq), received(client, seq))
			if r.Seq < last {
				t.Fatalf("%s got seq %d out of order", client, seq)
			}
			last = r.Seq
		}
	}
	for _, client := range []string{"c0", "c1", "c2"} {
		if n := c.d.Count(jsdriver.And(jsdriver.Type("event", client), received(client, 5))); n != 1 {
			t.Fatalf("%s got seq 5 %d times, want exactly once", client, n)
		}
	}

	// socket_id exclusion across nodes: node 2 publishes excluding c0 (node 0).
	mark := c.d.Mark()
	c.via(2, "sdk.trigger", args{"channels": []string{"private-orders"}, "event": "shipped", "data": args{"seq": 100},
		"params": args{"socket_id": sockets["c0"]}})
	c.d.WaitAfter(mark, "c1 gets the event", received("c1", 100))
	c.d.WaitAfter(mark, "c2 gets the event", received("c2", 100))
	c.d.NeverAfter(mark, "the excluded socket gets it", 300*time.Millisecond, received("c0", 100))

	// A whisper from node 0 reaches node 2's Echo client, not its sender.
	mark = c.d.Mark()
	c.d.Call("echoWhisper", args{"client": "c0", "kind": "private", "channel": "orders", "event": "typing", "data": args{"who": "c0"}})
	c.d.WaitAfter(mark, "c2 hears the whisper", func(r jsdriver.Report) bool {
		return r.Client == "c2" && r.Type == "whisper" && strings.Contains(string(r.Data), `"c0"`)
	})
	c.d.NeverAfter(mark, "the whisperer hears itself", 300*time.Millisecond, func(r jsdriver.Report) bool {
		return r.Client == "c0" && r.Type == "whisper"
	})

	// Every node reports the cluster's three subscriptions and connections.
	for i := range c.nodes {
		eventually(t, fmt.Sprintf("node %d counts 3 subscribers", i), func() bool {
			occupied, _, subs := c.channelInfo(i, "private-orders")
			return occupied && subs == 3
		})
		var conns struct{ Connections int }
		eventually(t, fmt.Sprintf("node %d counts 3 connections", i), func() bool {
			res := c.via(i, "sdk.get", args{"path": "/connections"})
			return json.Unmarshal(res.Body, &conns) == nil && conns.Connections == 3
		})
		var list struct {
			Channels map[string]any `json:"channels"`
		}
		c.ok("sdk.get", args{"sdk": "n" + strconv.Itoa(i), "path": "/channels"}, &list)
		if _, ok := list.Channels["private-orders"]; !ok || len(list.Channels) != 1 {
			t.Errorf("node %d lists %v", i, list.Channels)
		}
	}
}

// Presence across nodes: the member list is the cluster's, member_added
// fires once when a user first appears anywhere, member_removed once when
// the user's last socket anywhere leaves, and the API counts users from
// any node. The member limit is enforced cluster-wide.
func TestClusterPresence(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, redisURLArgs(redistest.Start(t)), "QUAVER_APP_MAX_PRESENCE_MEMBERS=3")
	const ch = "presence-room"
	c.on(0, "ann", "echo-reverb", args{"channelData": member("u1", "Ann")})
	c.on(1, "bob", "echo-pusher", args{"channelData": member("u2", "Bob")})
	c.on(2, "ann2", "pusher-js", args{"channelData": member("u1", "Ann")})

	c.d.Call("echoSubscribe", args{"client": "ann", "kind": "join", "channel": "room"})
	c.d.Wait("ann here()", jsdriver.Typed("here", "ann", ch))
	c.d.Call("echoSubscribe", args{"client": "bob", "kind": "join", "channel": "room"})
	here := c.d.Wait("bob here()", jsdriver.Typed("here", "bob", ch))
	if got := presenceUsers(t, here); !reflect.DeepEqual(got, []string{"Ann", "Bob"}) {
		t.Fatalf("bob (node 1) sees %v, want Ann (node 0) and Bob", got)
	}
	c.d.Wait("ann (node 0) sees bob (node 1) joining", jsdriver.Typed("joining", "ann", ch))

	// Ann's second socket, on node 2: nobody is told she joined again.
	mark := c.d.Mark()
	c.subscribe("ann2", ch)
	c.d.NeverAfter(mark, "a second member_added for ann", 500*time.Millisecond, func(r jsdriver.Report) bool {
		return r.Type == "joining"
	})
	for i := range c.nodes {
		eventually(t, fmt.Sprintf("node %d counts 2 users on 3 sockets", i), func() bool {
			_, users, subs := c.channelInfo(i, ch)
			return users == 2 && subs == 3
		})
	}
	var users struct {
		Users []struct{ ID string } `json:"users"`
	}
	c.ok("sdk.get", args{"sdk": "n2", "path": "/channels/" + ch + "/users"}, &users)
	if len(users.Users) != 2 {
		t.Fatalf("users from node 2: %+v", users.Users)
	}

	// The limit (3 users) holds across nodes: u3 fits on node 2, u4 does
	// not on node 0.
	c.on(2, "cid", "pusher-js", args{"channelData": member("u3", "Cid")})
	c.subscribe("cid", ch)
	c.on(0, "dan", "pusher-js", args{"channelData": member("u4", "Dan")})
	c.d.Call("subscribe", args{"client": "dan", "channel": ch})
	failed := c.d.Wait("dan refused", jsdriver.Event("dan", ch, "pusher:subscription_error"))
	if !strings.Contains(string(failed.Data), "LimitReached") {
		t.Errorf("dan's error %s", failed.Data)
	}

	// Ann leaves node 0: she is still on node 2, so nobody sees her leave.
	mark = c.d.Mark()
	c.d.Call("echoLeave", args{"client": "ann", "channel": "room"})
	c.d.NeverAfter(mark, "ann leaving while her other socket stays", 500*time.Millisecond, func(r jsdriver.Report) bool {
		return r.Type == "leaving"
	})
	// Her last socket goes: bob, on node 1, sees her leave, once.
	c.d.Call("disconnect", args{"client": "ann2"})
	leaving := c.d.WaitAfter(mark, "bob sees ann leave", jsdriver.Typed("leaving", "bob", ch))
	if !strings.Contains(leaving.Line, "Ann") {
		t.Errorf("leaving %s", leaving.Line)
	}
	c.d.NeverAfter(mark, "ann leaving twice", 300*time.Millisecond, func(r jsdriver.Report) bool {
		return r.Type == "leaving" && r.Client == "bob" && r.Seq != leaving.Seq
	})
}

// A cache channel's last event is shared: published through node 0, it is
// replayed to a subscriber that arrives on node 2. terminate_connections
// through node 0 closes the user's socket on node 1.
func TestClusterCacheAndTerminate(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, redisURLArgs(redistest.Start(t)))
	c.via(0, "sdk.trigger", args{"channels": []string{"cache-prices"}, "event": "price", "data": args{"eur": 7}})
	c.on(2, "late", "pusher-js", nil)
	c.d.Call("subscribe", args{"client": "late", "channel": "cache-prices"})
	r := c.d.Wait("the late subscriber on node 2 gets the cached event", jsdriver.Event("late", "cache-prices", "price"))
	if !strings.Contains(string(r.Data), `"eur":7`) {
		t.Errorf("cached data %s", r.Data)
	}

	c.on(1, "victim", "pusher-js", args{"channelData": member("u9", "Vic")})
	c.subscribe("victim", "presence-x")
	c.on(2, "bystander", "pusher-js", args{"channelData": member("u8", "By")})
	c.subscribe("bystander", "presence-x")
	c.ok("sdk.terminateUserConnections", args{"sdk": "n0", "userId": "u9"}, nil)
	c.d.Wait("the user's socket on node 1 is closed with 4009", jsdriver.ErrorCode("victim", 4009))
	c.d.Wait("and stays disconnected", jsdriver.State("victim", "disconnected"))
	c.d.Wait("the others see the user leave", jsdriver.And(jsdriver.Event("bystander", "presence-x", "pusher:member_removed"), jsdriver.DataContains(`"u9"`)))
	c.d.Never("the bystander is disconnected", 200*time.Millisecond, jsdriver.State("bystander", "disconnected"))
}

// nodeID asks a node for its id (reported by /up with Redis).
func nodeID(t *testing.T, n *testnode.Node) string {
	t.Helper()
	var up struct{ Node string }
	getJSON(t, n.URL+"/up", &up)
	if up.Node == "" {
		t.Fatal("/up has no node id")
	}
	return up.Node
}

// A node killed with SIGKILL: the survivors remove its sockets from
// presence and counts and announce member_removed for the users who had no
// other socket, within 15 s with the default node timeout, and nothing of
// the dead node stays in Redis.
func TestClusterNodeCrash(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	c := startCluster(t, 3, redisURLArgs(r))
	const ch = "presence-room"
	c.on(0, "ann", "echo-reverb", args{"channelData": member("u1", "Ann")})
	c.d.Call("echoSubscribe", args{"client": "ann", "kind": "join", "channel": "room"})
	c.d.Wait("ann here()", jsdriver.Typed("here", "ann", ch))
	// Bob only on node 1; Cid on nodes 1 and 2.
	c.on(1, "bob", "pusher-js", args{"channelData": member("u2", "Bob")})
	c.subscribe("bob", ch)
	c.on(1, "cid", "pusher-js", args{"channelData": member("u3", "Cid")})
	c.subscribe("cid", ch)
	c.on(2, "cid2", "pusher-js", args{"channelData": member("u3", "Cid")})
	c.subscribe("cid2", ch)
	c.d.Wait("ann sees bob", jsdriver.And(jsdriver.Typed("joining", "ann", ch), func(r jsdriver.Report) bool { return strings.Contains(r.Line, "Bob") }))
	dead := nodeID(t, c.nodes[1])
	eventually(t, "the census counts node 1's sockets", func() bool {
		_, users, subs := c.channelInfo(0, ch)
		return users == 3 && subs == 4
	})

	mark := c.d.Mark()
	killed := time.Now()
	c.nodes[1].Kill()
	left := c.d.WaitFor(20*time.Second, "ann sees bob leave", jsdriver.Typed("leaving", "ann", ch))
	took := time.Since(killed)
	t.Logf("member_removed for the dead node's user after %v", took.Round(100*time.Millisecond))
	if !strings.Contains(left.Line, "Bob") {
		t.Fatalf("leaving %s, want Bob", left.Line)
	}
	if took > 15*time.Second {
		t.Errorf("crash cleanup took %v, want within 15 s", took)
	}
	c.d.NeverAfter(mark, "cid, still on node 2, leaving", 500*time.Millisecond, func(r jsdriver.Report) bool {
		return r.Type == "leaving" && strings.Contains(r.Line, "Cid")
	})
	for _, i := range []int{0, 2} {
		eventually(t, fmt.Sprintf("node %d no longer counts node 1's sockets", i), func() bool {
			_, users, subs := c.channelInfo(i, ch)
			return users == 2 && subs == 2
		})
	}
	for _, pattern := range []string{"*" + dead + "*"} {
		if keys := r.Keys(pattern); len(keys) != 0 {
			t.Errorf("the dead node left keys in Redis: %v", keys)
		}
	}
	if field := r.Client().HExists(t.Context(), "quaver:conns:"+testnode.AppID, dead).Val(); field {
		t.Error("the dead node's connection count is still in Redis")
	}
}

// Redis restarts (losing its data): local connections stay up and local
// delivery goes on meanwhile; the nodes reconnect, restore their
// subscriptions, presence and counts by themselves, quietly, and /up and
// the metrics report what happened.
func TestClusterRedisRestart(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	c := startCluster(t, 2, redisURLArgs(r))
	const ch = "presence-room"
	c.on(0, "ann", "pusher-js", args{"channelData": member("u1", "Ann")})
	c.subscribe("ann", ch)
	c.subscribe("ann", "news")
	c.on(1, "bob", "pusher-js", args{"channelData": member("u2", "Bob")})
	c.subscribe("bob", ch)
	c.subscribe("bob", "news")
	c.d.Wait("ann sees bob", jsdriver.Event("ann", ch, "pusher:member_added"))
	mark := c.d.Mark()

	r.Stop()
	eventually(t, "/up reports Redis unreachable", func() bool {
		var up struct{ Health, Redis string }
		getJSON(t, c.nodes[0].URL+"/up", &up)
		return up.Health == "OK" && strings.HasPrefix(up.Redis, "unreachable")
	})
	c.via(0, "sdk.trigger", args{"channels": []string{"news"}, "event": "local", "data": args{"during": "outage"}})
	c.d.WaitAfter(mark, "ann (node 0) still gets node 0's events", jsdriver.Event("ann", "news", "local"))
	// Node 0 sends to Redis in the background: the failure is counted once
	// its attempt gives up.
	eventually(t, "the event that could not cross counted", func() bool {
		return strings.Contains(getText(t, c.nodes[0].URL+"/metrics"), "quaver_redis_publish_errors_total 1\n")
	})

	r.Revive()
	seq := 0
	eventually(t, "cross-node delivery resumes", func() bool {
		seq++
		c.via(1, "sdk.trigger", args{"channels": []string{"news"}, "event": "remote", "data": args{"seq": seq}})
		return c.d.Count(jsdriver.Event("ann", "news", "remote")) > 0
	})
	eventually(t, "presence restored in Redis", func() bool {
		var users struct {
			Users []struct{ ID string } `json:"users"`
		}
		res := c.via(0, "sdk.get", args{"path": "/channels/" + ch + "/users"})
		return json.Unmarshal(res.Body, &users) == nil && len(users.Users) == 2
	})
	for i := range c.nodes {
		eventually(t, fmt.Sprintf("node %d counts restored", i), func() bool {
			_, users, subs := c.channelInfo(i, ch)
			return users == 2 && subs == 2
		})
	}
	c.d.NeverAfter(mark, "members told of joins or leaves that never happened", 0, func(r jsdriver.Report) bool {
		return r.Event == "pusher:member_added" || r.Event == "pusher:member_removed"
	})
	c.d.NeverAfter(mark, "a client disconnected by the outage", 0, func(r jsdriver.Report) bool {
		return r.Type == "state" && r.Current != "connected"
	})
	var up struct{ Redis string }
	getJSON(t, c.nodes[0].URL+"/up", &up)
	if up.Redis != "ok" {
		t.Errorf("/up redis = %q after recovery", up.Redis)
	}
	metrics := getText(t, c.nodes[0].URL+"/metrics")
	for _, want := range []string{"quaver_redis_publish_errors_total 1\n", "quaver_redis_up 1\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// On a Redis Cluster, nodes fan out through sharded pub/sub and keep
// presence and cache state on the cluster.
func TestRedisClusterScaling(t *testing.T) {
	t.Parallel()
	rc := redistest.StartCluster(t, 3)
	c := startCluster(t, 2, []string{"--redis-cluster", strings.Join(rc.Addrs(), ",")})
	c.on(0, "ann", "echo-reverb", args{"channelData": member("u1", "Ann")})
	c.on(1, "bob", "echo-pusher", args{"channelData": member("u2", "Bob")})
	c.d.Call("echoSubscribe", args{"client": "ann", "kind": "join", "channel": "room"})
	c.d.Wait("ann here()", jsdriver.Typed("here", "ann", "presence-room"))
	c.d.Call("echoSubscribe", args{"client": "bob", "kind": "join", "channel": "room"})
	here := c.d.Wait("bob here()", jsdriver.Typed("here", "bob", "presence-room"))
	if got := presenceUsers(t, here); !reflect.DeepEqual(got, []string{"Ann", "Bob"}) {
		t.Fatalf("bob sees %v", got)
	}
	c.d.Wait("ann sees bob join", jsdriver.Typed("joining", "ann", "presence-room"))
	// Many channels, so that they spread over the cluster's shards.
	for i := range 8 {
		name := fmt.Sprintf("ticker-%d", i)
		c.echoSubscribe("ann", "channel", name)
		c.d.Call("echoListen", args{"client": "ann", "kind": "channel", "channel": name, "event": ".tick"})
	}
	for i := range 8 {
		c.via(1, "sdk.trigger", args{"channels": []string{fmt.Sprintf("ticker-%d", i)}, "event": "tick", "data": args{"i": i}})
	}
	for i := range 8 {
		c.d.Wait(fmt.Sprintf("ann gets tick %d through node 1", i), listenReport("ann", fmt.Sprintf("ticker-%d", i), ".tick"))
	}
	c.via(0, "sdk.trigger", args{"channels": []string{"cache-rates"}, "event": "rate", "data": args{"v": 3}})
	c.on(1, "late", "pusher-js", nil)
	c.d.Call("subscribe", args{"client": "late", "channel": "cache-rates"})
	c.d.Wait("the cached event crosses the cluster", jsdriver.Event("late", "cache-rates", "rate"))
}

func getText(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return string(b)
}

func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(getText(t, url)), v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}
