package gateway

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bwmarrin/discordgo"
)

// pointDiscordgo points discordgo's endpoint variables at base (with a
// trailing slash), parents before children, as notes/discord-clients.md
// §1.1 lists them: the string variables are computed once at package init,
// and the function variables read them at call time.
func pointDiscordgo(base string) {
	discordgo.EndpointDiscord = base
	discordgo.EndpointAPI = base + "api/v" + discordgo.APIVersion + "/"
	discordgo.EndpointGuilds = discordgo.EndpointAPI + "guilds/"
	discordgo.EndpointChannels = discordgo.EndpointAPI + "channels/"
	discordgo.EndpointUsers = discordgo.EndpointAPI + "users/"
	discordgo.EndpointGateway = discordgo.EndpointAPI + "gateway"
	discordgo.EndpointGatewayBot = discordgo.EndpointGateway + "/bot"
	discordgo.EndpointWebhooks = discordgo.EndpointAPI + "webhooks/"
	discordgo.EndpointStickers = discordgo.EndpointAPI + "stickers/"
	discordgo.EndpointStageInstances = discordgo.EndpointAPI + "stage-instances"
	discordgo.EndpointSKUs = discordgo.EndpointAPI + "skus"
	discordgo.EndpointApplications = discordgo.EndpointAPI + "applications"
	discordgo.EndpointOAuth2 = discordgo.EndpointAPI + "oauth2/"
	discordgo.EndpointOAuth2Applications = discordgo.EndpointOAuth2 + "applications"
	discordgo.EndpointGuildCreate = discordgo.EndpointAPI + "guilds"
	discordgo.EndpointNitroStickersPacks = discordgo.EndpointAPI + "/sticker-packs"
	discordgo.EndpointVoice = discordgo.EndpointAPI + "voice/"
	discordgo.EndpointVoiceRegions = discordgo.EndpointVoice + "regions"
	discordgo.EndpointCDN = base + "cdn/"
	discordgo.EndpointCDNAttachments = discordgo.EndpointCDN + "attachments/"
	discordgo.EndpointCDNAvatars = discordgo.EndpointCDN + "avatars/"
	discordgo.EndpointCDNIcons = discordgo.EndpointCDN + "icons/"
	discordgo.EndpointCDNSplashes = discordgo.EndpointCDN + "splashes/"
	discordgo.EndpointCDNChannelIcons = discordgo.EndpointCDN + "channel-icons/"
	discordgo.EndpointCDNBanners = discordgo.EndpointCDN + "banners/"
	discordgo.EndpointCDNGuilds = discordgo.EndpointCDN + "guilds/"
	discordgo.EndpointCDNRoleIcons = discordgo.EndpointCDN + "role-icons/"
}

// discordgoLog collects what discordgo logs at error and warning level: a
// dispatch it could not decode (a field of the wrong shape) shows up here,
// not as an error to the caller.
type discordgoLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *discordgoLog) log(level, _ int, format string, a ...any) {
	if level > discordgo.LogWarning {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, a...))
}

func (l *discordgoLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// within waits up to 5 s for a value on ch.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// TestDiscordgoBot runs an unmodified discordgo v0.29.0 bot against the
// node: an application made through REST, added to a guild with the OAuth2
// call, logs in with its token (state tracking on, so READY and
// GUILD_CREATE are parsed whole), hears a person's message, replies,
// edits, reacts, reads history and deletes; the person sees each through
// REST.
func TestDiscordgoBot(t *testing.T) {
	e := testEnv(t)
	bot, dev := e.application(t)
	owner := e.register(t)
	g := e.createGuild(t, owner, "Discordgo Guild")
	// VIEW_CHANNEL, SEND_MESSAGES, ADD_REACTIONS, READ_MESSAGE_HISTORY.
	e.authorizeBot(t, g, bot, "68672")

	logs := &discordgoLog{}
	discordgo.Logger = logs.log
	t.Cleanup(func() { discordgo.Logger = nil })
	pointDiscordgo(e.url + "/")

	s, err := discordgo.New("Bot " + bot.access)
	if err != nil {
		t.Fatal(err)
	}
	s.ShouldReconnectOnError = false
	s.Identify.Intents = discordgo.IntentsGuilds | discordgo.IntentsGuildMessages | discordgo.IntentsGuildMessageReactions |
		discordgo.IntentMessageContent
	ready := make(chan *discordgo.Ready, 1)
	guilds := make(chan *discordgo.GuildCreate, 4)
	messages := make(chan *discordgo.MessageCreate, 16)
	s.AddHandler(func(_ *discordgo.Session, r *discordgo.Ready) { ready <- r })
	s.AddHandler(func(_ *discordgo.Session, gc *discordgo.GuildCreate) { guilds <- gc })
	s.AddHandler(func(_ *discordgo.Session, m *discordgo.MessageCreate) {
		if m.Author != nil && m.Author.ID != bot.id {
			messages <- m
		}
	})
	if err := s.Open(); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })

	r := within(t, ready, "READY")
	if r.User == nil || r.User.ID != bot.id || !r.User.Bot || r.SessionID == "" || r.Application == nil || r.Application.ID != bot.id {
		t.Fatalf("READY: %+v", r)
	}
	gc := within(t, guilds, "GUILD_CREATE")
	if gc.ID != g.id || gc.Name != "Discordgo Guild" || len(gc.Channels) == 0 || len(gc.Roles) < 2 || len(gc.Members) != 2 {
		t.Fatalf("GUILD_CREATE: id %s name %q, %d channels, %d roles, %d members", gc.ID, gc.Name, len(gc.Channels), len(gc.Roles), len(gc.Members))
	}
	// The state cache holds what a bot's handlers look up.
	if s.State.User == nil || s.State.User.ID != bot.id {
		t.Fatalf("state user: %+v", s.State.User)
	}
	if ch, err := s.State.Channel(g.general); err != nil || ch.GuildID != g.id || ch.Name != "general" {
		t.Fatalf("state channel: %+v, %v", ch, err)
	}
	var managed *discordgo.Role
	for _, role := range gc.Roles {
		if role.Managed {
			managed = role
		}
	}
	if managed == nil || managed.Permissions != 68672 {
		t.Fatalf("managed role in GUILD_CREATE: %+v", managed)
	}
	if me, err := s.State.Member(g.id, bot.id); err != nil || len(me.Roles) != 1 || me.Roles[0] != managed.ID {
		t.Fatalf("state member of the bot: %+v, %v", me, err)
	}
	// REST as the bot: its user, the guild's roles (permissions as strings).
	if u, err := s.User("@me"); err != nil || u.ID != bot.id || !u.Bot {
		t.Fatalf("User(@me): %+v, %v", u, err)
	}
	if app, err := s.Application("@me"); err != nil || app.ID != bot.id || app.Owner == nil || app.Owner.ID != dev.id ||
		app.Flags != 1<<13|1<<15|1<<19 {
		t.Fatalf("Application(@me): %+v, %v", app, err)
	}
	if roles, err := s.GuildRoles(g.id); err != nil || len(roles) != len(gc.Roles) {
		t.Fatalf("GuildRoles: %d roles, %v", len(roles), err)
	}

	// A person writes; the bot hears it with its content.
	said := e.send(t, owner, g.general, "ping from a human")
	m := within(t, messages, "MESSAGE_CREATE")
	if m.ID != said || m.Content != "ping from a human" || m.Author.ID != owner.id || m.ChannelID != g.general || m.GuildID != g.id {
		t.Fatalf("MESSAGE_CREATE: %+v", m.Message)
	}

	// Reply.
	reply, err := s.ChannelMessageSendReply(g.general, "pong", m.Reference())
	if err != nil {
		t.Fatalf("ChannelMessageSendReply: %v", err)
	}
	seen := expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages/"+reply.ID, owner.auth(), nil), 200)
	ref, _ := seen.body["message_reference"].(map[string]any)
	if seen.body["content"] != "pong" || seen.body["author"].(map[string]any)["id"] != bot.id || ref == nil || ref["message_id"] != said {
		t.Fatalf("the reply as the person sees it: %s", seen.raw)
	}

	// Edit.
	edited, err := s.ChannelMessageEdit(g.general, reply.ID, "pong, edited")
	if err != nil || edited.Content != "pong, edited" || edited.EditedTimestamp == nil {
		t.Fatalf("ChannelMessageEdit: %+v, %v", edited, err)
	}
	seen = expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages/"+reply.ID, owner.auth(), nil), 200)
	if seen.body["content"] != "pong, edited" || seen.body["edited_timestamp"] == nil {
		t.Fatalf("the edit as the person sees it: %s", seen.raw)
	}

	// React to the person's message.
	if err := s.MessageReactionAdd(g.general, said, "👍"); err != nil {
		t.Fatalf("MessageReactionAdd: %v", err)
	}
	users := e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages/"+said+"/reactions/%F0%9F%91%8D", owner.auth(), nil)
	if users.status != 200 || !strings.Contains(users.raw, `"id":"`+bot.id+`"`) {
		t.Fatalf("reactors as the person sees them: %d %s", users.status, users.raw)
	}

	// History, newest first.
	history, err := s.ChannelMessages(g.general, 10, "", "", "")
	if err != nil || len(history) != 2 || history[0].ID != reply.ID || history[1].ID != said {
		ids := []string{}
		for _, h := range history {
			ids = append(ids, h.ID)
		}
		t.Fatalf("ChannelMessages: %v, %v; want [%s %s]", ids, err, reply.ID, said)
	}
	if len(history[1].Reactions) != 1 || history[1].Reactions[0].Emoji.Name != "👍" || !history[1].Reactions[0].Me {
		t.Fatalf("history reactions: %+v", history[1].Reactions)
	}

	// Delete the reply.
	if err := s.ChannelMessageDelete(g.general, reply.ID); err != nil {
		t.Fatalf("ChannelMessageDelete: %v", err)
	}
	gone := e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages/"+reply.ID, owner.auth(), nil)
	if gone.status != 404 || gone.body["code"] != float64(10008) {
		t.Fatalf("deleted reply: %d %s", gone.status, gone.raw)
	}
	// A REST error reaches the bot as discordgo's RESTError with
	// Discord's code.
	_, err = s.ChannelMessage(g.general, reply.ID)
	var rest *discordgo.RESTError
	if !errors.As(err, &rest) || rest.Message == nil || rest.Message.Code != 10008 {
		t.Fatalf("ChannelMessage of a deleted message: %v", err)
	}

	if l := logs.errors(); len(l) != 0 {
		t.Fatalf("discordgo logged errors:\n%s", strings.Join(l, "\n"))
	}
}
