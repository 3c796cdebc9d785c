package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/accordchat/accord/actors"
	"github.com/accordchat/accord/snowflake"
)

// requestMembersData is Request Guild Members' "d". guild_id and user_ids
// may each be one snowflake or an array of them.
type requestMembersData struct {
	GuildID   json.RawMessage `json:"guild_id"`
	Query     *string         `json:"query"`
	Limit     *int            `json:"limit"`
	Presences bool            `json:"presences"`
	UserIDs   json.RawMessage `json:"user_ids"`
	Nonce     *string         `json:"nonce"`
}

// membersChunkSize is Discord's members per GUILD_MEMBERS_CHUNK.
const membersChunkSize = 1000

// maxNonce is the longest nonce echoed; a longer one is ignored.
const maxNonce = 32

// snowflakeList reads one snowflake (string or number) or an array of them.
func snowflakeList(raw json.RawMessage) ([]int64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var many []snowflake.ID
	if raw[0] == '[' {
		if json.Unmarshal(raw, &many) != nil {
			return nil, false
		}
	} else {
		var one snowflake.ID
		if json.Unmarshal(raw, &one) != nil {
			return nil, false
		}
		many = []snowflake.ID{one}
	}
	out := make([]int64, len(many))
	for i, id := range many {
		out[i] = int64(id)
	}
	return out, true
}

// requestMembers is op 8: GUILD_MEMBERS_CHUNK dispatches with the members
// asked for, on this session only. A bot needs GUILD_MEMBERS for the whole
// list (query "" with limit 0; without it the answer is one empty chunk)
// and GUILD_PRESENCES for presences (without it they are left out). A guild
// the user is not in gets no answer, as on Discord.
func (c *conn) requestMembers(d json.RawMessage) error {
	var rm requestMembersData
	if err := decodeData(d, &rm); err != nil {
		return err
	}
	guilds, ok := snowflakeList(rm.GuildID)
	if !ok || len(guilds) == 0 {
		return ErrDecode
	}
	userIDs, ok := snowflakeList(rm.UserIDs)
	if !ok || (rm.Query == nil && userIDs == nil) || (rm.Limit != nil && *rm.Limit < 0) {
		return ErrDecode
	}
	ss := c.sess
	nonce := ""
	if rm.Nonce != nil && len(*rm.Nonce) <= maxNonce {
		nonce = *rm.Nonce
	}
	presences := rm.Presences && ss.intents&IntentGuildPresences != 0
	params := map[string]string{}
	all := false
	if userIDs != nil {
		ids := make([]string, len(userIDs))
		for i, id := range userIDs {
			ids[i] = strconv.FormatInt(id, 10)
		}
		params["user_ids"] = strings.Join(ids, ",")
	} else {
		params["query"] = *rm.Query
		limit := 0
		if rm.Limit != nil {
			limit = *rm.Limit
		}
		params["limit"] = strconv.Itoa(limit)
		all = *rm.Query == "" && limit == 0
	}
	ctx, cancel := context.WithTimeout(c.srv.ctx, c.srv.cfg.RequestTimeout)
	defer cancel()
	for _, gid := range guilds {
		reply := actors.MembersReply{Members: nil}
		if !all || ss.intents&IntentGuildMembers != 0 {
			res, err := c.srv.cfg.Guilds.Call(ctx, actors.GuildRequest{GuildID: gid, Op: "gateway.members",
				ActorID: ss.userID, Params: params})
			if err != nil {
				return err
			}
			if res.Status != http.StatusOK {
				continue
			}
			if err := json.Unmarshal(res.Body, &reply); err != nil {
				return err
			}
		}
		c.sendChunks(ss, gid, reply, userIDs != nil, presences, nonce)
	}
	return nil
}

// membersChunk is GUILD_MEMBERS_CHUNK's "d".
type membersChunk struct {
	GuildID    snowflake.ID      `json:"guild_id"`
	Members    []json.RawMessage `json:"members"`
	ChunkIndex int               `json:"chunk_index"`
	ChunkCount int               `json:"chunk_count"`
	NotFound   []snowflake.ID    `json:"not_found,omitempty"`
	Presences  json.RawMessage   `json:"presences,omitempty"`
	Nonce      string            `json:"nonce,omitempty"`
}

func (c *conn) sendChunks(ss *session, gid int64, reply actors.MembersReply, byID, presences bool, nonce string) {
	members := make([]json.RawMessage, len(reply.Members))
	ids := make([]snowflake.ID, len(reply.Members))
	for i, m := range reply.Members {
		members[i], _ = json.Marshal(m)
		if m.User != nil {
			ids[i] = m.User.ID
		}
	}
	count := max(1, (len(members)+membersChunkSize-1)/membersChunkSize)
	for i := range count {
		lo, hi := i*membersChunkSize, min((i+1)*membersChunkSize, len(members))
		chunk := membersChunk{GuildID: snowflake.ID(gid), Members: members[lo:hi], ChunkIndex: i, ChunkCount: count,
			Nonce: nonce}
		if chunk.Members == nil {
			chunk.Members = []json.RawMessage{}
		}
		if byID && i == 0 {
			chunk.NotFound = reply.NotFound
			if chunk.NotFound == nil {
				chunk.NotFound = []snowflake.ID{}
			}
		}
		if presences {
			chunk.Presences = c.srv.presence.presencesOf(ids[lo:hi], 0)
		}
		data, err := json.Marshal(chunk)
		if err != nil {
			continue
		}
		ss.dispatch(dispatchHead("GUILD_MEMBERS_CHUNK", data))
	}
}
