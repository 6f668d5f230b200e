package connection

import (
	"strconv"
	"time"

	"github.com/quaver-dev/quaver/presence"
	"github.com/quaver-dev/quaver/protocol"
)

var pongFrame = protocol.NewFrame(protocol.EventPong, "", "{}", protocol.DataRaw, "")

func connectionEstablished(socketID string, activityTimeout time.Duration) *protocol.Frame {
	data := make([]byte, 0, 64)
	data = append(data, `{"socket_id":`...)
	data = protocol.AppendQuoted(data, socketID)
	data = append(data, `,"activity_timeout":`...)
	data = strconv.AppendInt(data, int64(activityTimeout.Seconds()), 10)
	data = append(data, '}')
	return protocol.NewFrame(protocol.EventConnectionEstablished, "", string(data), protocol.DataString, "")
}

func subscriptionSucceeded(channel string) *protocol.Frame {
	return protocol.NewFrame(protocol.EventSubscriptionSucceeded, channel, "{}", protocol.DataString, "")
}

// presenceSucceeded lists the channel's members as pusher-js and the other
// SDKs read them: ids, a hash of user_info by id, and the count.
func presenceSucceeded(channel string, members []presence.Member) *protocol.Frame {
	data := make([]byte, 0, 64+len(members)*48)
	data = append(data, `{"presence":{"ids":[`...)
	for i, m := range members {
		if i > 0 {
			data = append(data, ',')
		}
		data = protocol.AppendQuoted(data, m.UserID)
	}
	data = append(data, `],"hash":{`...)
	for i, m := range members {
		if i > 0 {
			data = append(data, ',')
		}
		data = protocol.AppendQuoted(data, m.UserID)
		data = append(data, ':')
		data = protocol.AppendInfo(data, m.Info)
	}
	data = append(data, `},"count":`...)
	data = strconv.AppendInt(data, int64(len(members)), 10)
	data = append(data, "}}"...)
	return protocol.NewFrame(protocol.EventSubscriptionSucceeded, channel, string(data), protocol.DataString, "")
}

// subscriptionError tells a client why a subscription failed, on the
// channel, in the shape pusher-js emits for auth endpoint failures, so that
// Echo's error() callback sees it.
func subscriptionError(channel, kind, message string, status int) *protocol.Frame {
	data := make([]byte, 0, 48+len(message))
	data = append(data, `{"type":`...)
	data = protocol.AppendQuoted(data, kind)
	data = append(data, `,"error":`...)
	data = protocol.AppendQuoted(data, message)
	data = append(data, `,"status":`...)
	data = strconv.AppendInt(data, int64(status), 10)
	data = append(data, '}')
	return protocol.NewFrame(protocol.EventSubscriptionError, channel, string(data), protocol.DataRaw, "")
}

func signinSuccess(userData string) *protocol.Frame {
	data := make([]byte, 0, 16+len(userData)+len(userData)/8)
	data = append(data, `{"user_data":`...)
	data = protocol.AppendQuoted(data, userData)
	data = append(data, '}')
	return protocol.NewFrame(protocol.EventSigninSuccess, "", string(data), protocol.DataRaw, "")
}

func cacheMiss(channel string) *protocol.Frame {
	return protocol.NewFrame(protocol.EventCacheMiss, channel, "", protocol.DataNone, "")
}
