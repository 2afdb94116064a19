package cli

import "time"

// The data parts of imgpurged's answers, as the command line reads them.
// They are declared here rather than imported from the server's packages,
// so the client depends on the wire format only (and its binary does not
// carry the journal's database drivers).

// purgeData is the data of a DELETE's answer, success or failure.
type purgeData struct {
	PurgeID    string      `json:"purge_id"`
	Datastore  string      `json:"datastore"`
	ImageID    string      `json:"image_id"`
	Selector   string      `json:"selector"`
	Renditions []string    `json:"renditions"`
	Journaled  bool        `json:"journaled"`
	JournalID  string      `json:"journal_id"`
	Layers     []layerData `json:"layers"`
}

type layerData struct {
	Layer          string      `json:"layer"`
	Provider       string      `json:"provider"`
	Tier           int         `json:"tier"`
	Status         string      `json:"status"`
	Reason         string      `json:"reason,omitempty"`
	Items          int         `json:"items"`
	Attempts       int         `json:"attempts"`
	DurationMS     int64       `json:"duration_ms"`
	Error          *layerError `json:"error,omitempty"`
	RemainingCount int         `json:"remaining_count,omitempty"`
}

type layerError struct {
	Code      string `json:"code"`
	Message   string `json:"message,omitempty"`
	Retryable bool   `json:"retryable"`
}

// acceptedData is the data of a 202 to an asynchronous purge.
type acceptedData struct {
	PurgeID    string   `json:"purge_id"`
	Joined     bool     `json:"joined"`
	State      string   `json:"state"`
	Renditions []string `json:"renditions"`
}

// planData is the data of a dry run (GET /plan/image/...).
type planData struct {
	Datastore         string      `json:"datastore"`
	ImageID           string      `json:"image_id"`
	Selector          string      `json:"selector"`
	Renditions        []string    `json:"renditions"`
	RenditionCount    int         `json:"rendition_count"`
	Layers            []planLayer `json:"layers"`
	CloudFrontPaths   int         `json:"cloudfront_paths"`
	CloudFrontCostUSD float64     `json:"cloudfront_cost_usd"`
	CostBasis         string      `json:"cost_basis"`
}

type planLayer struct {
	Layer    string   `json:"layer"`
	Provider string   `json:"provider"`
	Tier     int      `json:"tier"`
	Items    []string `json:"items"`
	Count    int      `json:"count"`
}

// purgeRecord is a purge as GET /purges and GET /purges/{id} show it.
type purgeRecord struct {
	ID         string       `json:"id"`
	Datastore  string       `json:"datastore"`
	ImageID    string       `json:"image_id"`
	Selector   string       `json:"selector"`
	Subject    string       `json:"subject"`
	TrackingID string       `json:"tracking_id"`
	State      string       `json:"state"`
	Attempts   int          `json:"attempts"`
	CreatedAt  time.Time    `json:"created_at"`
	UpdatedAt  time.Time    `json:"updated_at"`
	Layers     []layerState `json:"layers"`
}

type layerState struct {
	Layer        string    `json:"layer"`
	Provider     string    `json:"provider"`
	Tier         int       `json:"tier"`
	State        string    `json:"state"`
	Items        int       `json:"items"`
	Remaining    []string  `json:"remaining"`
	Attempts     int       `json:"attempts"`
	ErrorCode    string    `json:"error_code"`
	ErrorMessage string    `json:"error_message"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// purgeList is the data of GET /purges.
type purgeList struct {
	Purges []purgeRecord `json:"purges"`
	Count  int           `json:"count"`
}
