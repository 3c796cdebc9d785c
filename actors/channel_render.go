package actors

import (
	"context"
	"time"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

func wireUser(u persistence.User) discord.User {
	return discord.User{ID: snowflake.ID(u.ID), Username: u.Username, Discriminator: discriminator(u.Discriminator),
		GlobalName: u.GlobalName, Avatar: u.Avatar, Bot: u.Bot}
}

// UserLookup resolves user ids to users for rendering messages.
type UserLookup interface {
	UsersByIDs(ctx context.Context, ids []int64) (map[int64]persistence.User, error)
}

// RenderMessages turns stored messages into Discord message objects: authors
// and mentioned users looked up in one query, replies with their referenced
// message (when it still exists in refs).
func RenderMessages(ctx context.Context, users UserLookup, msgs []persistence.Message, refs map[int64]persistence.Message) ([]discord.Message, error) {
	ids := map[int64]bool{}
	for _, m := range msgs {
		ids[m.AuthorID] = true
		for _, u := range m.Mentions {
			ids[u] = true
		}
	}
	for _, r := range refs {
		ids[r.AuthorID] = true
	}
	list := make([]int64, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	known, err := users.UsersByIDs(ctx, list)
	if err != nil {
		return nil, err
	}
	out := make([]discord.Message, len(msgs))
	for i, m := range msgs {
		out[i] = renderMessage(m, known)
		if m.RefMessageID != 0 {
			if r, ok := refs[m.RefMessageID]; ok {
				rm := renderMessage(r, known)
				out[i].ReferencedMessage = &rm
			}
		}
	}
	return out, nil
}

// deletedUser stands in for an author whose account is gone.
func userOrGhost(known map[int64]persistence.User, id int64) discord.User {
	if u, ok := known[id]; ok {
		return wireUser(u)
	}
	return discord.User{ID: snowflake.ID(id), Username: "Deleted User", Discriminator: "0000"}
}

func renderMessage(m persistence.Message, known map[int64]persistence.User) discord.Message {
	out := discord.Message{
		ID: snowflake.ID(m.ID), ChannelID: snowflake.ID(m.ChannelID), Author: userOrGhost(known, m.AuthorID),
		Content: m.Content, Timestamp: snowflake.ID(m.ID).Time(), EditedTimestamp: utcPtr(m.EditedAt),
		TTS: m.TTS, MentionEveryone: m.MentionEveryone, Mentions: make([]discord.User, 0, len(m.Mentions)),
		MentionRoles: make([]snowflake.ID, 0, len(m.MentionRoles)), Attachments: []any{}, Embeds: []any{},
		Nonce: m.Nonce, Pinned: m.PinnedAt != nil, Type: m.Type, Flags: m.Flags,
	}
	for _, u := range m.Mentions {
		out.Mentions = append(out.Mentions, userOrGhost(known, u))
	}
	for _, r := range m.MentionRoles {
		out.MentionRoles = append(out.MentionRoles, snowflake.ID(r))
	}
	if m.RefMessageID != 0 {
		out.MessageReference = &discord.MessageReference{MessageID: sfPtr(m.RefMessageID), ChannelID: sfPtr(m.RefChannelID),
			GuildID: sfPtr(m.RefGuildID)}
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
