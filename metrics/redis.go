package metrics

import "time"

// RedisUp records whether this node reaches Redis.
func (m *Metrics) RedisUp(up bool) {
	if m == nil {
		return
	}
	if up {
		m.redisUp.Set(1)
	} else {
		m.redisUp.Set(0)
	}
}

// RedisPublishError counts an event that reached only this node.
func (m *Metrics) RedisPublishError() {
	if m != nil {
		m.redisPublishErrors.Inc()
	}
}

// RedisReconnected counts a restored subscription connection and the
// outage it ended.
func (m *Metrics) RedisReconnected(outage time.Duration) {
	if m != nil {
		m.redisReconnects.Inc()
		m.redisOutageSeconds.Add(outage.Seconds())
	}
}

// RedisStateError counts a presence or count update Redis did not take.
func (m *Metrics) RedisStateError() {
	if m != nil {
		m.redisDroppedPresence.Inc()
	}
}
