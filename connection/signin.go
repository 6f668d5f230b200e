package connection

import (
	"encoding/json"

	"github.com/quaver-dev/quaver/protocol"
)

var (
	errSigninDisabled = &protocol.Error{Code: protocol.CodeUnauthorized, Message: "User authentication is disabled for this app"}
	errSigninRequest  = &protocol.Error{Code: protocol.CodeUnauthorized, Message: "Invalid signin request: data must hold auth and user_data"}
	errSigninUserData = &protocol.Error{Code: protocol.CodeUnauthorized, Message: "Invalid user_data: it must be a JSON object with a non-empty id"}
)

// signin authenticates the connection as a user (pusher:signin). A failed
// sign-in closes the connection with 4009, as Pusher does, because the
// client would otherwise wait for a signin_success that never comes.
func (c *Conn) signin(msg protocol.Message) {
	if !c.app.UserAuthentication {
		c.CloseWith(errSigninDisabled, true)
		return
	}
	var d protocol.SigninData
	if err := protocol.DecodeData(msg.Data, &d); err != nil || d.Auth == "" || d.UserData == "" {
		c.CloseWith(errSigninRequest, true)
		return
	}
	if err := protocol.VerifyAuth(c.app.Key, c.app.Secret, d.Auth, protocol.UserAuthMessage(c.id, d.UserData)); err != nil {
		c.CloseWith(&protocol.Error{Code: protocol.CodeUnauthorized, Message: "Invalid signin: " + err.Error()}, true)
		return
	}
	var ud struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal([]byte(d.UserData), &ud) != nil {
		c.CloseWith(errSigninUserData, true)
		return
	}
	id, ok := userIDString(ud.ID)
	if !ok || len(id) > maxUserIDLength {
		c.CloseWith(errSigninUserData, true)
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	previous := c.user
	c.user = &signedInUser{id: id, userData: d.UserData}
	c.hub.users.add(c.app.ID, id, c)
	c.mu.Unlock()
	if previous != nil {
		c.hub.users.remove(c.app.ID, previous.id, c)
	}
	c.Send(signinSuccess(d.UserData))
}
