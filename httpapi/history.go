package httpapi

import (
	"encoding/json"
	"github.com/quaver-dev/quaver/apps"
	"net/http"
	"strconv"

	"github.com/quaver-dev/quaver/channels"
)

// maxHistoryLimit bounds the events one history request returns.
const maxHistoryLimit = 1000

// channelHistory answers GET /apps/{id}/channels/{name}/history: the text of
// each token stream the channel retains and its last events (up to limit,
// default all kept), for channels with an AI streaming rule.
func (a *API) channelHistory(w http.ResponseWriter, r *http.Request, app *apps.App, _ []byte) {
	ch := pathParam(r, "channel")
	if err := channels.Validate(ch); err != nil {
		writeError(w, badRequest(err.Error()))
		return
	}
	rule := app.Rule(ch)
	if rule == nil || (!rule.Tokens && rule.History == 0) {
		writeError(w, badRequest("the channel keeps no history: configure a channel rule with tokens or history"))
		return
	}
	limit := rule.History
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxHistoryLimit {
			writeError(w, badRequest("limit must be a number from 0 to 1000"))
			return
		}
		limit = min(n, rule.History)
	}
	streams, recent, err := a.opts.Publisher.History(r.Context(), app.ID, ch, limit)
	if err != nil {
		a.stateError(w, r.Context(), err)
		return
	}
	type streamJSON struct {
		Stream json.RawMessage `json:"stream"`
		Event  string          `json:"event"`
		Seq    int64           `json:"seq"`
		Text   string          `json:"text"`
		Done   bool            `json:"done"`
	}
	type eventJSON struct {
		Event   string `json:"event"`
		Channel string `json:"channel"`
		Data    string `json:"data"`
	}
	out := struct {
		Streams []streamJSON `json:"streams"`
		Events  []eventJSON  `json:"events"`
	}{Streams: []streamJSON{}, Events: []eventJSON{}}
	for _, st := range streams {
		out.Streams = append(out.Streams, streamJSON{Stream: json.RawMessage(st.ID), Event: st.Event, Seq: st.Seq, Text: st.Text, Done: st.Done})
	}
	for _, f := range recent {
		out.Events = append(out.Events, eventJSON{Event: f.Event, Channel: f.Channel, Data: f.Data})
	}
	writeJSON(w, http.StatusOK, out)
}
