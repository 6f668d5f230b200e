package protocol

// MemberAdded builds pusher_internal:member_added for a user; info is the
// user_info JSON (empty for none).
func MemberAdded(channel, userID, info string) *Frame {
	data := make([]byte, 0, 32+len(userID)+len(info))
	data = append(data, `{"user_id":`...)
	data = AppendQuoted(data, userID)
	data = append(data, `,"user_info":`...)
	data = AppendInfo(data, info)
	data = append(data, '}')
	return NewFrame(EventMemberAdded, channel, string(data), DataString, "")
}

// MemberRemoved builds pusher_internal:member_removed for a user.
func MemberRemoved(channel, userID string) *Frame {
	data := make([]byte, 0, 16+len(userID))
	data = append(data, `{"user_id":`...)
	data = AppendQuoted(data, userID)
	data = append(data, '}')
	return NewFrame(EventMemberRemoved, channel, string(data), DataString, "")
}

// AppendInfo appends a member's user_info JSON, or null when there is none.
func AppendInfo(dst []byte, info string) []byte {
	if info == "" {
		return append(dst, "null"...)
	}
	return append(dst, info...)
}
