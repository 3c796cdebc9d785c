package persistence_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

// newMessageStore is newStore with the message partitions of today.
func newMessageStore(t *testing.T) *persistence.Store {
	t.Helper()
	s := newStore(t)
	if err := s.PrepareMessages(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

var idBase = int64(snowflake.FromTime(time.Now()))

// mid is the i-th test message id: increasing with i, inside today's partition.
func mid(i int) int64 { return idBase + int64(i)<<12 }

func msg(channel int64, i int, content string) persistence.Message {
	return persistence.Message{ID: mid(i), ChannelID: channel, AuthorID: 100, Content: content}
}

func timeNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// writeMessages stores msgs through a MessageWriter under epoch and fails the
// test unless all commit.
func writeMessages(t *testing.T, s *persistence.Store, epoch int64, msgs ...persistence.Message) {
	t.Helper()
	for _, err := range submitAll(t, s, epoch, msgs...) {
		if err != nil {
			t.Fatalf("write messages: %v", err)
		}
	}
}

// submitAll submits msgs to a fresh writer, then runs it until every
// outcome is in, and returns them in order.
func submitAll(t *testing.T, s *persistence.Store, epoch int64, msgs ...persistence.Message) []error {
	t.Helper()
	w := persistence.NewMessageWriter(s, persistence.WriterConfig{MaxDelay: -1, Logger: quiet})
	errs := make([]error, len(msgs))
	var wg sync.WaitGroup
	for i, m := range msgs {
		wg.Add(1)
		if err := w.Submit(m, epoch, func(err error) { errs[i] = err; wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	wg.Wait()
	cancel()
	<-done
	return errs
}

func ids(msgs []persistence.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

// mids returns mid(i) for each i.
func mids(is ...int) []int64 {
	out := make([]int64, len(is))
	for k, i := range is {
		out[k] = mid(i)
	}
	return out
}

// span returns from, from-1, ..., to (or upwards when from < to).
func span(from, to int) []int {
	var out []int
	for i := from; ; {
		out = append(out, i)
		if i == to {
			return out
		}
		if from > to {
			i--
		} else {
			i++
		}
	}
}

func TestMessageRoundTrip(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	epoch, _ := s.AcquireChannelEpoch(ctx, 10)
	nonce := "n-1"
	edited := timeNow()
	full := persistence.Message{ID: mid(1), ChannelID: 10, GuildID: 7, AuthorID: 3, Content: "hi <@4>", Nonce: &nonce,
		TTS: true, MentionEveryone: true, Mentions: []int64{4}, MentionRoles: []int64{8, 9}, RefMessageID: mid(0),
		RefChannelID: 10, RefGuildID: 7, Type: 19, Flags: 4, EditedAt: &edited}
	bare := persistence.Message{ID: mid(2), ChannelID: 10, AuthorID: 3, Content: "dm"}
	writeMessages(t, s, epoch, full, bare)
	got, err := s.MessageByID(ctx, 10, full.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Nonce == nil || *got.Nonce != nonce {
		t.Fatalf("nonce %v, want %q", got.Nonce, nonce)
	}
	got.Nonce, full.Nonce = nil, nil
	if fmt.Sprint(got) != fmt.Sprint(full) || !got.EditedAt.Equal(edited) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, full)
	}
	got, err = s.MessageByID(ctx, 10, bare.ID)
	if err != nil || got.GuildID != 0 || got.Nonce != nil || got.Mentions == nil || got.MentionRoles == nil || got.RefMessageID != 0 {
		t.Fatalf("bare message: %+v %v", got, err)
	}
	if _, err := s.MessageByID(ctx, 11, bare.ID); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("message of another channel: %v", err)
	}
	if _, err := s.MessageByID(ctx, 10, mid(3)); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("absent message: %v", err)
	}
}

func TestMessagesPage(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	e1, _ := s.AcquireChannelEpoch(ctx, 1)
	e2, _ := s.AcquireChannelEpoch(ctx, 2)
	var a, b []persistence.Message
	for i := 1; i <= 60; i++ {
		if i%4 == 0 {
			b = append(b, msg(2, i, "b")) // interleaved, must never show in channel 1
		} else {
			a = append(a, msg(1, i, "a"))
		}
	}
	writeMessages(t, s, e1, a...)
	writeMessages(t, s, e2, b...)
	// Channel 1 holds i = 1..60 without multiples of 4: 45 messages.
	in1 := func(is []int) []int { return slices.DeleteFunc(is, func(i int) bool { return i%4 == 0 }) }
	for _, c := range []struct {
		name string
		q    persistence.PageQuery
		want []int
	}{
		{"newest", persistence.PageQuery{Limit: 5}, []int{59, 58, 57, 55, 54}},
		{"default limit", persistence.PageQuery{}, in1(span(60, 1))},
		{"before", persistence.PageQuery{Before: mid(10), Limit: 4}, []int{9, 7, 6, 5}},
		{"before the first", persistence.PageQuery{Before: mid(1)}, nil},
		{"before a gap", persistence.PageQuery{Before: mid(3) + 1, Limit: 2}, []int{3, 2}},
		{"after", persistence.PageQuery{After: mid(10), Limit: 4}, []int{15, 14, 13, 11}},
		{"after the last", persistence.PageQuery{After: mid(59)}, nil},
		{"after zero is newest", persistence.PageQuery{After: 0, Limit: 1}, []int{59}},
		{"around", persistence.PageQuery{Around: mid(30), Limit: 6}, []int{33, 31, 30, 29, 27, 26}},
		{"around odd", persistence.PageQuery{Around: mid(30), Limit: 5}, []int{33, 31, 30, 29, 27}},
		{"around one", persistence.PageQuery{Around: mid(30), Limit: 1}, []int{30}},
		{"around the newest", persistence.PageQuery{Around: mid(59), Limit: 6}, []int{59, 58, 57, 55}},
		{"around the oldest", persistence.PageQuery{Around: mid(1), Limit: 6}, []int{3, 2, 1}},
		{"around an absent id", persistence.PageQuery{Around: mid(32), Limit: 4}, []int{34, 33, 31, 30}},
		{"around wins", persistence.PageQuery{Around: mid(30), Before: mid(5), Limit: 1}, []int{30}},
		{"limit capped", persistence.PageQuery{Limit: 1000}, in1(span(60, 1))},
	} {
		got, err := s.MessagesPage(ctx, 1, c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if want := mids(c.want...); !slices.Equal(ids(got), want) {
			t.Errorf("%s: got %d messages %v, want %v", c.name, len(got), ids(got), want)
		}
	}
	got, _ := s.MessagesPage(ctx, 2, persistence.PageQuery{})
	if !slices.Equal(ids(got), mids(span(15, 1)...)) && len(got) != 15 {
		t.Errorf("channel 2: %d messages", len(got))
	}
	for _, m := range got {
		if m.ChannelID != 2 {
			t.Fatalf("message %d of channel %d in channel 2's page", m.ID, m.ChannelID)
		}
	}
	// 100 is the most a page holds.
	var many []persistence.Message
	for i := 100; i < 250; i++ {
		many = append(many, msg(3, i, "m"))
	}
	e3, _ := s.AcquireChannelEpoch(ctx, 3)
	writeMessages(t, s, e3, many...)
	if got, _ := s.MessagesPage(ctx, 3, persistence.PageQuery{Limit: 500}); len(got) != persistence.MaxPageLimit {
		t.Fatalf("page of %d messages, want %d", len(got), persistence.MaxPageLimit)
	}
}

// Every page query is a keyset range scan of the (channel_id, id) index,
// never a scan of the table or a sort of a channel's whole history.
func TestMessagesPageUsesIndex(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	if _, err := s.Pool().Exec(ctx, `INSERT INTO messages (id, channel_id, author_id, content)
		SELECT $1::bigint + g * 4096, g % 200, 1, 'x' FROM generate_series(1, 40000) g`, idBase); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pool().Exec(ctx, `ANALYZE messages`); err != nil {
		t.Fatal(err)
	}
	around := idBase + 20000*4096
	sel := `SELECT id FROM messages WHERE channel_id = 7`
	for name, q := range map[string]string{
		"newest": sel + ` ORDER BY id DESC LIMIT 50`,
		"before": fmt.Sprintf(sel+` AND id < %d ORDER BY id DESC LIMIT 50`, around),
		"after":  fmt.Sprintf(sel+` AND id > %d ORDER BY id LIMIT 50`, around),
		"around": fmt.Sprintf(`(`+sel+` AND id < %d ORDER BY id DESC LIMIT 25) UNION ALL (`+sel+` AND id >= %[1]d ORDER BY id LIMIT 25)`, around),
	} {
		rows, err := s.Pool().Query(ctx, `EXPLAIN `+q)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		if !strings.Contains(plan, "Index") || strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Bitmap") ||
			strings.Contains(plan, "Sort") {
			t.Errorf("%s is not a keyset index scan:\n%s", name, plan)
		}
	}
	// The page itself reads the same.
	page, err := s.MessagesPage(ctx, 7, persistence.PageQuery{Around: around + 7*4096, Limit: 4})
	// Limit 4: two older, the message, one newer.
	if err != nil || len(page) != 4 || page[1].ID != around+7*4096 {
		t.Fatalf("around page: %v %v", ids(page), err)
	}
}

func TestEditMessage(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	epoch, _ := s.AcquireChannelEpoch(ctx, 1)
	writeMessages(t, s, epoch, msg(1, 1, "first"))
	id := mid(1)
	if edits, err := s.MessageEdits(ctx, 1, id); err != nil || len(edits) != 0 || edits == nil {
		t.Fatalf("edits of an unedited message: %v %v", edits, err)
	}
	t1, t2, t3 := timeNow(), timeNow().Add(time.Second), timeNow().Add(2*time.Second)
	m, err := s.EditMessage(ctx, epoch, 1, id, "second <@5>", t1, []int64{5}, nil, false)
	if err != nil || m.Content != "second <@5>" || !m.EditedAt.Equal(t1) || !slices.Equal(m.Mentions, []int64{5}) || m.MentionRoles == nil {
		t.Fatalf("edit: %+v %v", m, err)
	}
	if _, err := s.EditMessage(ctx, epoch, 1, id, "third @everyone", t2, nil, []int64{9}, true); err != nil {
		t.Fatal(err)
	}
	// Same text again (a flags-only edit, say): no new version.
	if _, err := s.EditMessage(ctx, epoch, 1, id, "third @everyone", t3, nil, []int64{9}, true); err != nil {
		t.Fatal(err)
	}
	m, _ = s.MessageByID(ctx, 1, id)
	if m.Content != "third @everyone" || !m.MentionEveryone || len(m.Mentions) != 0 || !slices.Equal(m.MentionRoles, []int64{9}) || !m.EditedAt.Equal(t3) {
		t.Fatalf("after edits: %+v", m)
	}
	edits, err := s.MessageEdits(ctx, 1, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []persistence.Edit{{Content: "first", EditedAt: t1}, {Content: "second <@5>", EditedAt: t2}}
	if len(edits) != 2 || edits[0].Content != want[0].Content || !edits[0].EditedAt.Equal(t1) ||
		edits[1].Content != want[1].Content || !edits[1].EditedAt.Equal(t2) {
		t.Fatalf("edits %+v, want %+v", edits, want)
	}
	if _, err := s.EditMessage(ctx, epoch, 1, mid(2), "x", t1, nil, nil, false); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("edit of an absent message: %v", err)
	}
	e2, _ := s.AcquireChannelEpoch(ctx, 2)
	if _, err := s.EditMessage(ctx, e2, 2, id, "x", t1, nil, nil, false); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("edit through another channel: %v", err)
	}
	if _, err := s.MessageEdits(ctx, 2, id); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("edits through another channel: %v", err)
	}
}

func TestDeleteMessages(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	e1, _ := s.AcquireChannelEpoch(ctx, 1)
	e2, _ := s.AcquireChannelEpoch(ctx, 2)
	writeMessages(t, s, e1, msg(1, 1, "a"), msg(1, 2, "b"), msg(1, 3, "c"))
	writeMessages(t, s, e2, msg(2, 4, "other"))
	if _, err := s.EditMessage(ctx, e1, 1, mid(2), "b2", timeNow(), nil, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddReaction(ctx, e1, 1, mid(2), "👍", 5); err != nil {
		t.Fatal(err)
	}
	deleted, err := s.DeleteMessages(ctx, e1, 1, []int64{mid(3), mid(2), mid(4), mid(9)})
	if err != nil || !slices.Equal(deleted, mids(2, 3)) {
		t.Fatalf("deleted %v (%v), want %v", deleted, err, mids(2, 3))
	}
	page, _ := s.MessagesPage(ctx, 1, persistence.PageQuery{})
	if !slices.Equal(ids(page), mids(1)) {
		t.Fatalf("left %v", ids(page))
	}
	if _, err := s.MessageByID(ctx, 2, mid(4)); err != nil {
		t.Fatalf("another channel's message was deleted: %v", err)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM reactions) + (SELECT count(*) FROM message_edits)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d reactions and edits of deleted messages remain (%v)", n, err)
	}
	if deleted, err := s.DeleteMessages(ctx, e1, 1, []int64{mid(3)}); err != nil || len(deleted) != 0 || deleted == nil {
		t.Fatalf("deleting again: %v %v", deleted, err)
	}
}

func TestDeleteChannelMessages(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	e1, _ := s.AcquireChannelEpoch(ctx, 1)
	e2, _ := s.AcquireChannelEpoch(ctx, 2)
	writeMessages(t, s, e1, msg(1, 1, "a"), msg(1, 2, "b"))
	writeMessages(t, s, e2, msg(2, 3, "c"))
	if _, err := s.AddReaction(ctx, e1, 1, mid(1), "👍", 5); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EditMessage(ctx, e1, 1, mid(2), "b2", timeNow(), nil, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddReaction(ctx, e2, 2, mid(3), "👍", 5); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteChannelMessages(ctx, 1); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM reactions) * 10 + (SELECT count(*) FROM message_edits)`).Scan(&n); err != nil || n != 10 {
		t.Fatalf("reactions*10+edits = %d (%v), want only channel 2's reaction left", n, err)
	}
	if page, _ := s.MessagesPage(ctx, 1, persistence.PageQuery{}); len(page) != 0 {
		t.Fatalf("%d messages left", len(page))
	}
	if page, _ := s.MessagesPage(ctx, 2, persistence.PageQuery{}); len(page) != 1 {
		t.Fatal("another channel's messages went too")
	}
	// The grain that owned the deleted channel can no longer write to it.
	if errs := submitAll(t, s, e1, msg(1, 4, "late")); !errors.Is(errs[0], persistence.ErrFenced) {
		t.Fatalf("write after channel deletion: %v", errs[0])
	}
}

func TestPins(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	e, _ := s.AcquireChannelEpoch(ctx, 1)
	writeMessages(t, s, e, msg(1, 1, "a"), msg(1, 2, "b"), msg(1, 3, "c"))
	t1, t2 := timeNow(), timeNow().Add(time.Minute)
	// Pinned in the order 3, 1: newest pin first.
	if err := s.SetPinned(ctx, e, 1, mid(3), &t1); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPinned(ctx, e, 1, mid(1), &t2); err != nil {
		t.Fatal(err)
	}
	pins, err := s.PinnedMessages(ctx, 1)
	if err != nil || !slices.Equal(ids(pins), mids(1, 3)) || !pins[0].PinnedAt.Equal(t2) {
		t.Fatalf("pins %v (%v)", ids(pins), err)
	}
	if n, err := s.CountPins(ctx, 1); err != nil || n != 2 {
		t.Fatalf("count %d (%v)", n, err)
	}
	if err := s.SetPinned(ctx, e, 1, mid(3), nil); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountPins(ctx, 1); n != 1 {
		t.Fatalf("after unpin: %d pins", n)
	}
	if err := s.SetPinned(ctx, e, 1, mid(7), &t1); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("pin of an absent message: %v", err)
	}
}

func TestReactions(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	e, _ := s.AcquireChannelEpoch(ctx, 1)
	writeMessages(t, s, e, msg(1, 1, "a"), msg(1, 2, "b"), msg(1, 3, "c"))
	m1, m2 := mid(1), mid(2)
	add := func(m int64, emoji string, user int64) bool {
		t.Helper()
		added, err := s.AddReaction(ctx, e, 1, m, emoji, user)
		if err != nil {
			t.Fatal(err)
		}
		return added
	}
	// On m1: 👍 first (users 10, 11, 12), then party:123 (user 11).
	for _, u := range []int64{12, 10, 11} {
		if !add(m1, "👍", u) {
			t.Fatal("first reaction not added")
		}
	}
	if add(m1, "👍", 10) {
		t.Fatal("a repeated reaction counted as added")
	}
	add(m1, "party:123", 11)
	add(m2, "🔥", 10)

	got, err := s.ReactionsFor(ctx, 1, []int64{m1, m2, mid(3)}, 11)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64][]persistence.Reaction{
		m1: {{Emoji: "👍", Count: 3, Me: true}, {Emoji: "party:123", Count: 1, Me: true}},
		m2: {{Emoji: "🔥", Count: 1, Me: false}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("reactions as 11 sees them: %v, want %v", got, want)
	}
	// Another channel's view of the same ids is empty.
	if got, _ := s.ReactionsFor(ctx, 2, []int64{m1}, 11); len(got) != 0 {
		t.Fatalf("reactions through another channel: %v", got)
	}
	users, err := s.ReactionUsers(ctx, 1, m1, "👍", 0, 2)
	if err != nil || !slices.Equal(users, []int64{10, 11}) {
		t.Fatalf("users page 1: %v %v", users, err)
	}
	if users, _ = s.ReactionUsers(ctx, 1, m1, "👍", 11, 2); !slices.Equal(users, []int64{12}) {
		t.Fatalf("users page 2: %v", users)
	}

	if removed, err := s.RemoveReaction(ctx, e, 1, m1, "👍", 11); err != nil || !removed {
		t.Fatalf("remove: %v %v", removed, err)
	}
	if removed, err := s.RemoveReaction(ctx, e, 1, m1, "👍", 11); err != nil || removed {
		t.Fatalf("remove again: %v %v", removed, err)
	}
	if err := s.RemoveEmojiReactions(ctx, e, 1, m1, "party:123"); err != nil {
		t.Fatal(err)
	}
	got, _ = s.ReactionsFor(ctx, 1, []int64{m1}, 11)
	if fmt.Sprint(got[m1]) != fmt.Sprint([]persistence.Reaction{{Emoji: "👍", Count: 2}}) {
		t.Fatalf("after removals: %v", got)
	}
	if err := s.RemoveAllReactions(ctx, e, 1, m1); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.ReactionsFor(ctx, 1, []int64{m1, m2}, 11); len(got[m1]) != 0 || len(got[m2]) != 1 {
		t.Fatalf("after remove all: %v", got)
	}
	absent := mid(9)
	if _, err := s.AddReaction(ctx, e, 1, absent, "👍", 1); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("react to an absent message: %v", err)
	}
	if _, err := s.RemoveReaction(ctx, e, 1, absent, "👍", 1); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("unreact on an absent message: %v", err)
	}
	if err := s.RemoveAllReactions(ctx, e, 1, absent); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("clear an absent message: %v", err)
	}
	if err := s.RemoveEmojiReactions(ctx, e, 1, absent, "👍"); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("clear an emoji of an absent message: %v", err)
	}
}

func TestDMChannelFor(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	// Concurrent first DMs between the same two users agree on one channel.
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		chans   = map[int64]bool{}
		created int
	)
	for i := range 8 {
		wg.Go(func() {
			a, b := int64(1), int64(2)
			if i%2 == 1 {
				a, b = b, a
			}
			id, c, err := s.DMChannelFor(ctx, a, b, int64(1000+i))
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			chans[id] = true
			if c {
				created++
			}
		})
	}
	wg.Wait()
	if len(chans) != 1 || created != 1 {
		t.Fatalf("concurrent DMChannelFor: channels %v, %d created; want one", chans, created)
	}
	var dm int64
	for id := range chans {
		dm = id
	}
	if r, err := s.DMRecipients(ctx, dm); err != nil || !slices.Equal(r, []int64{1, 2}) {
		t.Fatalf("recipients %v (%v)", r, err)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM channels`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d channels exist (%v): the losers' inserts must roll back", n, err)
	}
	if id, c, err := s.DMChannelFor(ctx, 2, 1, 2000); err != nil || c || id != dm {
		t.Fatalf("existing pair: %d %v %v", id, c, err)
	}
	if _, err := s.DMRecipients(ctx, 5555); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("recipients of an unknown channel: %v", err)
	}
	// 1:1 DMs take no recipients.
	if _, err := s.AddDMRecipient(ctx, dm, 3); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("add recipient to a 1:1 DM: %v", err)
	}
}

func TestGroupDMs(t *testing.T) {
	s := newMessageStore(t)
	ctx := context.Background()
	if err := s.CreateGroupDM(ctx, 500, 1, []int64{3, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.DMRecipients(ctx, 500); !slices.Equal(r, []int64{1, 2, 3}) {
		t.Fatalf("group recipients %v: the owner is one of them, once each", r)
	}
	if added, err := s.AddDMRecipient(ctx, 500, 4); err != nil || !added {
		t.Fatalf("add: %v %v", added, err)
	}
	if added, err := s.AddDMRecipient(ctx, 500, 4); err != nil || added {
		t.Fatalf("add again: %v %v", added, err)
	}
	if removed, err := s.RemoveDMRecipient(ctx, 500, 2); err != nil || !removed {
		t.Fatalf("remove: %v %v", removed, err)
	}
	if removed, err := s.RemoveDMRecipient(ctx, 500, 2); err != nil || removed {
		t.Fatalf("remove again: %v %v", removed, err)
	}
	if _, err := s.AddDMRecipient(ctx, 501, 4); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("add to an unknown group: %v", err)
	}
	dm, _, err := s.DMChannelFor(ctx, 1, 9, 600)
	if err != nil {
		t.Fatal(err)
	}
	// A message in the group DM makes it the most recent.
	e, _ := s.AcquireChannelEpoch(ctx, 500)
	writeMessages(t, s, e, msg(500, 1, "hi all"))
	chans, err := s.DMChannelsOf(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	name := (*string)(nil)
	want := []persistence.DMChannel{
		{ID: 500, Type: persistence.ChannelTypeGroupDM, OwnerID: 1, Name: name, Recipients: []int64{1, 3, 4}, LastMessageID: mid(1)},
		{ID: dm, Type: persistence.ChannelTypeDM, Recipients: []int64{1, 9}},
	}
	if fmt.Sprint(chans) != fmt.Sprint(want) {
		t.Fatalf("DM channels of 1:\n got %+v\nwant %+v", chans, want)
	}
	if chans, _ := s.DMChannelsOf(ctx, 2); len(chans) != 0 {
		t.Fatalf("a removed recipient still lists %+v", chans)
	}
}

func TestSharesGuild(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	for _, u := range []int64{1, 2, 3} {
		if _, err := s.CreateUser(ctx, persistence.NewUser{ID: u, Username: fmt.Sprint("u", u), Email: fmt.Sprint(u, "@x.io"), PasswordHash: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Pool().Exec(ctx, `INSERT INTO guilds (id, name, owner_id) VALUES (10, 'g', 1), (11, 'h', 3);
		INSERT INTO guild_members (guild_id, user_id) VALUES (10, 1), (10, 2), (11, 3)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		a, b int64
		want bool
	}{{1, 2, true}, {2, 1, true}, {1, 3, false}, {3, 3, true}, {4, 1, false}} {
		if got, err := s.SharesGuild(ctx, c.a, c.b); err != nil || got != c.want {
			t.Errorf("SharesGuild(%d, %d) = %v (%v), want %v", c.a, c.b, got, err, c.want)
		}
	}
}
