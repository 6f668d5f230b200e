package scaling

import "time"

// Observer is told about Redis health; *metrics.Metrics satisfies it.
type Observer interface {
	RedisUp(up bool)
	RedisPublishError()
	RedisReconnected(outage time.Duration)
}

type nopObserver struct{}

func (nopObserver) RedisUp(bool)                   {}
func (nopObserver) RedisPublishError()             {}
func (nopObserver) RedisReconnected(time.Duration) {}
