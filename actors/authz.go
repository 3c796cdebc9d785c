package actors

import (
	"errors"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/proto/guildpb"
	"github.com/accordchat/accord/snowflake"
)

// StatusNeedViewers is the status of a channel grain's answer when the
// authorization it was given left the channel's viewers out (the guild grain
// had already sent that list) and the grain does not hold the list of that
// guild state: the caller asks the guild grain again with the "viewers"
// parameter set to "all" and repeats the call. It never reaches a client.
const StatusNeedViewers = 1

// rawBody is a reply body that is already encoded (not JSON-marshalled).
type rawBody []byte

// encodeAuthz encodes a for the wire: the guild grain's channel.authorize
// answer and the channel grain's own answer for DM channels.
func encodeAuthz(a *ChannelAuthz, viewersVersion uint64, includeViewers bool) ([]byte, error) {
	pb := &guildpb.Authz{
		GuildId: int64(a.GuildID), ChannelId: int64(a.ChannelID), ChannelType: int32(a.ChannelType),
		RateLimitPerUser: int32(a.RateLimitPerUser), Permissions: uint64(a.Permissions),
		Author: userToProto(&a.Author), ViewersIncluded: includeViewers, ViewersVersion: viewersVersion,
		MentionRoles: make([]int64, len(a.MentionRoles)), MentionEveryone: a.MentionEveryone,
		AllowRepliedUser: a.AllowRepliedUser,
	}
	if a.Member != nil {
		pb.Member = memberToProto(a.Member)
	}
	if includeViewers {
		pb.Viewers = a.Viewers
	}
	if len(a.Mentions) > 0 {
		pb.Mentions = make([]*guildpb.User, len(a.Mentions))
		for i := range a.Mentions {
			pb.Mentions[i] = userToProto(&a.Mentions[i])
		}
	}
	for i, r := range a.MentionRoles {
		pb.MentionRoles[i] = int64(r)
	}
	return proto.Marshal(pb)
}

// errBadAuthz is an authorization that does not decode.
var errBadAuthz = errors.New("actors: malformed channel authorization")

// DecodeAuthz decodes the authorization a guild grain's channel.authorize
// (or a DM channel grain's authorize) answered. Viewers are left empty when
// the answer did not include them; version and included say which list of
// viewers it refers to.
func DecodeAuthz(b []byte) (a ChannelAuthz, version uint64, included bool, err error) {
	var pb guildpb.Authz
	if err := proto.Unmarshal(b, &pb); err != nil || pb.Author == nil {
		return ChannelAuthz{}, 0, false, errBadAuthz
	}
	a = ChannelAuthz{
		GuildID: snowflake.ID(pb.GuildId), ChannelID: snowflake.ID(pb.ChannelId), ChannelType: int(pb.ChannelType),
		RateLimitPerUser: int(pb.RateLimitPerUser), Permissions: permissions.Permission(pb.Permissions),
		Author: userFromProto(pb.Author), Viewers: pb.Viewers, Mentions: make([]discord.User, len(pb.Mentions)),
		MentionRoles: make([]snowflake.ID, len(pb.MentionRoles)), MentionEveryone: pb.MentionEveryone,
		AllowRepliedUser: pb.AllowRepliedUser,
	}
	if pb.Member != nil {
		m := memberFromProto(pb.Member)
		a.Member = &m
	}
	for i, u := range pb.Mentions {
		a.Mentions[i] = userFromProto(u)
	}
	for i, r := range pb.MentionRoles {
		a.MentionRoles[i] = snowflake.ID(r)
	}
	return a, pb.ViewersVersion, pb.ViewersIncluded, nil
}

func userToProto(u *discord.User) *guildpb.User {
	pb := &guildpb.User{Id: int64(u.ID), Username: u.Username, Discriminator: u.Discriminator, Bot: u.Bot}
	if u.GlobalName != nil {
		pb.GlobalName, pb.HasGlobalName = *u.GlobalName, true
	}
	if u.Avatar != nil {
		pb.Avatar, pb.HasAvatar = *u.Avatar, true
	}
	return pb
}

func userFromProto(pb *guildpb.User) discord.User {
	u := discord.User{ID: snowflake.ID(pb.Id), Username: pb.Username, Discriminator: pb.Discriminator, Bot: pb.Bot}
	if pb.HasGlobalName {
		u.GlobalName = &pb.GlobalName
	}
	if pb.HasAvatar {
		u.Avatar = &pb.Avatar
	}
	return u
}

func memberToProto(m *discord.Member) *guildpb.Member {
	pb := &guildpb.Member{Roles: make([]int64, len(m.Roles))}
	if m.Nick != nil {
		pb.Nick, pb.HasNick = *m.Nick, true
	}
	for i, r := range m.Roles {
		pb.Roles[i] = int64(r)
	}
	pb.JoinedAtNs, pb.JoinedAtOffset = timeToProto(m.JoinedAt)
	if t := m.CommunicationDisabledUntil; t != nil {
		pb.CommunicationDisabledUntilNs, pb.CommunicationDisabledUntilOffset = timeToProto(*t)
	}
	return pb
}

func memberFromProto(pb *guildpb.Member) discord.Member {
	m := discord.Member{Roles: make([]snowflake.ID, len(pb.Roles)), JoinedAt: timeFromProto(pb.JoinedAtNs, pb.JoinedAtOffset)}
	if pb.HasNick {
		m.Nick = &pb.Nick
	}
	for i, r := range pb.Roles {
		m.Roles[i] = snowflake.ID(r)
	}
	if pb.CommunicationDisabledUntilNs != 0 {
		t := timeFromProto(pb.CommunicationDisabledUntilNs, pb.CommunicationDisabledUntilOffset)
		m.CommunicationDisabledUntil = &t
	}
	return m
}

// timeToProto keeps the instant and the UTC offset, so that the time
// renders in JSON exactly as the guild grain's would.
func timeToProto(t time.Time) (ns int64, offset int32) {
	if t.IsZero() {
		return 0, 0
	}
	_, off := t.Zone()
	return t.UnixNano(), int32(off)
}

func timeFromProto(ns int64, offset int32) time.Time {
	if ns == 0 && offset == 0 {
		return time.Time{}
	}
	t := time.Unix(0, ns)
	if offset == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("", int(offset)))
}
