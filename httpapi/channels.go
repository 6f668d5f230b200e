package httpapi

import (
	"github.com/quaver-dev/quaver/apps"
	"net/http"
	"sort"
	"strings"

	"github.com/quaver-dev/quaver/channels"
)

func (a *API) listChannels(w http.ResponseWriter, r *http.Request, app *apps.App, _ []byte) {
	q := r.URL.Query()
	prefix := q.Get("filter_by_prefix")
	withUsers := false
	for _, attr := range strings.Split(q.Get("info"), ",") {
		switch strings.TrimSpace(attr) {
		case "":
		case "user_count":
			withUsers = true
		default:
			writeError(w, badRequest("info may only be user_count here"))
			return
		}
	}
	if withUsers && !strings.HasPrefix(prefix, "presence-") {
		writeError(w, badRequest("info=user_count needs filter_by_prefix=presence-"))
		return
	}
	counts, err := a.opts.State.Channels(r.Context(), app.ID, prefix)
	if err != nil {
		a.stateError(w, r.Context(), err)
		return
	}
	out := make(map[string]map[string]int, len(counts))
	for ch := range counts {
		out[ch] = map[string]int{}
		if withUsers {
			n, err := a.opts.Presence.Count(r.Context(), app.ID, ch)
			if err != nil {
				a.stateError(w, r.Context(), err)
				return
			}
			out[ch]["user_count"] = n
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"channels": out})
}

func (a *API) showChannel(w http.ResponseWriter, r *http.Request, app *apps.App, _ []byte) {
	ch := pathParam(r, "channel")
	if err := channels.Validate(ch); err != nil {
		writeError(w, badRequest(err.Error()))
		return
	}
	n, err := a.opts.State.SubscriptionCount(r.Context(), app.ID, ch)
	if err != nil {
		a.stateError(w, r.Context(), err)
		return
	}
	out := map[string]any{"occupied": n > 0}
	info, err := a.channelInfo(r.Context(), app.ID, ch, r.URL.Query().Get("info"))
	if err != nil {
		a.stateError(w, r.Context(), err)
		return
	}
	for k, v := range info {
		out[k] = v
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, app *apps.App, _ []byte) {
	ch := pathParam(r, "channel")
	if channels.Classify(ch).Kind != channels.Presence || channels.Validate(ch) != nil {
		writeError(w, badRequest("users are only listed for presence channels"))
		return
	}
	members, err := a.opts.Presence.Members(r.Context(), app.ID, ch)
	if err != nil {
		a.stateError(w, r.Context(), err)
		return
	}
	users := make([]map[string]string, len(members))
	for i, m := range members {
		users[i] = map[string]string{"id": m.UserID}
	}
	sort.Slice(users, func(i, j int) bool { return users[i]["id"] < users[j]["id"] })
	writeJSON(w, http.StatusOK, map[string]any{"users": users})
}
