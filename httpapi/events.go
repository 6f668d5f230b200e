package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/goccy/go-json"
	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/broadcast"
	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/protocol"
)

// event is one event of a trigger or batch request. Data is kept raw so that
// a non-string data is reported instead of silently re-encoded.
type event struct {
	Name     string          `json:"name"`
	Data     json.RawMessage `json:"data"`
	Channels []string        `json:"channels"`
	Channel  string          `json:"channel"`
	SocketID string          `json:"socket_id"`
	Info     string          `json:"info"`
}

// validated is an event ready to publish, and the info it asks for.
type validated struct {
	broadcast.Trigger
	info string
}

// decodeBody decodes a trigger or batch body into v. A field of the wrong
// type is named in the error; anything else that is not the JSON expected
// gets notJSON.
//
// It decodes with goccy/go-json, which reads JSON as encoding/json does
// (FuzzDecodeBody holds it to that) without reflecting on every call: a
// trigger is the API's hot path, one per token for an AI backend, and
// encoding/json took a tenth of the server's CPU and 800 bytes of garbage
// per trigger at 10,000 triggers a second.
func decodeBody(body []byte, v any, notJSON string) *apiError {
	err := json.Unmarshal(body, v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		switch field := strings.TrimPrefix(typeErr.Field, "batch."); {
		case field == "channels" || strings.HasPrefix(field, "channels."):
			return badRequest("channels must be an array of strings")
		case field == "name" || field == "channel" || field == "socket_id" || field == "info":
			return badRequest(field + " must be a string")
		}
	}
	return badRequest(notJSON)
}

func (a *API) triggerEvent(w http.ResponseWriter, r *http.Request, app *apps.App, body []byte) {
	var ev event
	if failure := decodeBody(body, &ev, "Request body must be a JSON object"); failure != nil {
		writeError(w, failure)
		return
	}
	v, failure := validate(app, ev, app.MaxChannelsPerEvent)
	if failure != nil {
		writeError(w, failure)
		return
	}
	a.opts.Publisher.Trigger(r.Context(), app, v.Trigger)
	if v.info == "" {
		writeEmpty(w)
		return
	}
	infos := make(map[string]map[string]int, len(v.Channels))
	for _, ch := range v.Channels {
		info, err := a.channelInfo(r.Context(), app.ID, ch, v.info)
		if err != nil {
			a.stateError(w, r.Context(), err)
			return
		}
		infos[ch] = info
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": infos})
}

func (a *API) triggerBatch(w http.ResponseWriter, r *http.Request, app *apps.App, body []byte) {
	var req struct {
		Batch []event `json:"batch"`
	}
	if failure := decodeBody(body, &req, "Request body must be a JSON object with a batch array"); failure != nil {
		writeError(w, failure)
		return
	}
	batch := req.Batch
	if len(batch) == 0 {
		writeError(w, badRequest("batch must hold at least one event"))
		return
	}
	if len(batch) > app.MaxBatchSize {
		writeError(w, badRequest("batch holds more than "+strconv.Itoa(app.MaxBatchSize)+" events"))
		return
	}
	// Validate the whole batch before publishing any of it, so a bad item
	// does not leave half a batch delivered.
	items := make([]validated, len(batch))
	withInfo := false
	for i, ev := range batch {
		v, failure := batchItem(app, ev)
		if failure != nil {
			failure.Message = "batch item " + strconv.Itoa(i) + ": " + failure.Message
			writeError(w, failure)
			return
		}
		items[i] = v
		withInfo = withInfo || v.info != ""
	}
	ts := make([]broadcast.Trigger, len(items))
	for i, v := range items {
		ts[i] = v.Trigger
	}
	a.opts.Publisher.Trigger(r.Context(), app, ts...)
	if !withInfo {
		writeEmpty(w)
		return
	}
	out := make([]map[string]int, len(items))
	for i, v := range items {
		out[i] = map[string]int{}
		if v.info == "" {
			continue
		}
		info, err := a.channelInfo(r.Context(), app.ID, v.Channels[0], v.info)
		if err != nil {
			a.stateError(w, r.Context(), err)
			return
		}
		out[i] = info
	}
	writeJSON(w, http.StatusOK, map[string]any{"batch": out})
}

// batchItem validates one event of a batch, which names one channel.
func batchItem(app *apps.App, ev event) (validated, *apiError) {
	if len(ev.Channels) > 0 {
		return validated{}, badRequest("use channel, not channels")
	}
	return validate(app, ev, 1)
}

// validate decodes one event's data and applies the Pusher rules and the
// app's limits to it.
func validate(app *apps.App, ev event, maxChannels int) (validated, *apiError) {
	v := validated{Trigger: broadcast.Trigger{Name: ev.Name, Channels: ev.Channels, Except: ev.SocketID, Source: protocol.SourceAPI}, info: ev.Info}
	if ev.Channel != "" {
		v.Channels = append(v.Channels, ev.Channel)
	}
	if len(ev.Data) == 0 || ev.Data[0] != '"' {
		return v, badRequest("data must be a string (JSON-encode objects before sending)")
	}
	if err := json.Unmarshal(ev.Data, &v.Data); err != nil {
		return v, badRequest("data must be a string")
	}
	if err := v.Validate(app, maxChannels); err != nil {
		if err.TooLarge {
			return v, tooLarge(err.Message)
		}
		return v, badRequest(err.Message)
	}
	return v, nil
}

// channelInfo answers info=user_count,subscription_count for one channel;
// user_count is only meaningful on presence channels.
func (a *API) channelInfo(ctx context.Context, app, ch, info string) (map[string]int, error) {
	out := map[string]int{}
	for _, attr := range strings.Split(info, ",") {
		switch strings.TrimSpace(attr) {
		case "subscription_count":
			n, err := a.opts.State.SubscriptionCount(ctx, app, ch)
			if err != nil {
				return nil, err
			}
			out["subscription_count"] = n
		case "user_count":
			if channels.Classify(ch).Kind != channels.Presence {
				continue
			}
			n, err := a.opts.Presence.Count(ctx, app, ch)
			if err != nil {
				return nil, err
			}
			out["user_count"] = n
		}
	}
	return out, nil
}
