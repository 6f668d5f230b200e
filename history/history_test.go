package history_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/quaver-dev/quaver/history"
	"github.com/quaver-dev/quaver/history/storetest"
	"github.com/quaver-dev/quaver/internal/redistest"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) history.Store { return history.NewMemory() })
}

var prefixes atomic.Int64

func TestRedisStore(t *testing.T) {
	client := redistest.Start(t).Client()
	storetest.Run(t, func(*testing.T) history.Store {
		return history.NewRedis(client, fmt.Sprintf("h%d", prefixes.Add(1)))
	})
}

func TestRedisClusterStore(t *testing.T) {
	client := redistest.StartCluster(t, 3).Client(t)
	storetest.Run(t, func(*testing.T) history.Store {
		return history.NewRedis(client, fmt.Sprintf("h%d", prefixes.Add(1)))
	})
}
