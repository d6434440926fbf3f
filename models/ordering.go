package models

// OrderedEvent is an event an ordered webhook is owed in a conversation,
// and its place in the order events were stored in.
type OrderedEvent struct {
	EventID string
	Seq     int64
}

// InOrderEnd says why an ordered webhook no longer takes a conversation
// in order.
type InOrderEnd string

const (
	// InOrderGoing: it still does.
	InOrderGoing InOrderEnd = ""
	// InOrderDeleted: the webhook is gone, and its deliveries with it.
	InOrderDeleted InOrderEnd = "deleted"
	// InOrderPaused: the webhook is paused; what it was owed is logged
	// skipped, for recover to replay.
	InOrderPaused InOrderEnd = "paused"
	// InOrderUnordered: its ordering was switched off; what it was owed is
	// delivered without waiting for the events before it.
	InOrderUnordered InOrderEnd = "unordered"
)

// InOrderNext is what an ordered webhook is owed next in a conversation:
// the next event (Found), or none yet; End when it no longer takes the
// conversation in order, with Owed, for InOrderUnordered, the events
// queued to it and not attempted yet (oldest first, a page of them).
// Cursor is how far the search got, in the events' order.
type InOrderNext struct {
	Event  OrderedEvent
	Found  bool
	End    InOrderEnd
	Owed   []OrderedEvent
	Cursor int64
}

// Recoverable is a delivery a recover redelivers, with its event's place
// in the order events were stored and, where its webhook takes
// conversations in order, the event's conversation.
type Recoverable struct {
	DeliveryID     string
	EventID        string
	Seq            int64
	ConversationID string
}
