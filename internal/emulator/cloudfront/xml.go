package cloudfront

import (
	"encoding/xml"
	"time"
)

// Namespace is the XML namespace of the 2020-05-31 API.
const Namespace = "http://cloudfront.amazonaws.com/doc/2020-05-31/"

type batchXML struct {
	XMLName         xml.Name  `xml:"InvalidationBatch"`
	CallerReference *string   `xml:"CallerReference"`
	Paths           *pathsXML `xml:"Paths"`
}

type pathsXML struct {
	Quantity *int      `xml:"Quantity"`
	Items    *itemsXML `xml:"Items"`
}

type itemsXML struct {
	Path []string `xml:"Path"`
}

type batchOutXML struct {
	Paths           pathsOutXML `xml:"Paths"`
	CallerReference string      `xml:"CallerReference"`
}

type pathsOutXML struct {
	Quantity int      `xml:"Quantity"`
	Items    itemsXML `xml:"Items"`
}

type invalidationXML struct {
	XMLName           xml.Name    `xml:"Invalidation"`
	Xmlns             string      `xml:"xmlns,attr"`
	ID                string      `xml:"Id"`
	Status            string      `xml:"Status"`
	CreateTime        string      `xml:"CreateTime"`
	InvalidationBatch batchOutXML `xml:"InvalidationBatch"`
}

type listXML struct {
	XMLName     xml.Name     `xml:"InvalidationList"`
	Xmlns       string       `xml:"xmlns,attr"`
	Marker      string       `xml:"Marker"`
	MaxItems    int          `xml:"MaxItems"`
	IsTruncated bool         `xml:"IsTruncated"`
	Quantity    int          `xml:"Quantity"`
	Items       []summaryXML `xml:"Items>InvalidationSummary"`
}

type summaryXML struct {
	ID         string `xml:"Id"`
	CreateTime string `xml:"CreateTime"`
	Status     string `xml:"Status"`
}

type errorResponseXML struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Error     errorXML `xml:"Error"`
	RequestID string   `xml:"RequestId"`
}

type errorXML struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func timeXML(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (inv *Invalidation) xml(now time.Time) invalidationXML {
	return invalidationXML{
		Xmlns:      Namespace,
		ID:         inv.ID,
		Status:     inv.status(now),
		CreateTime: timeXML(inv.Created),
		InvalidationBatch: batchOutXML{
			CallerReference: inv.CallerReference,
			Paths:           pathsOutXML{Quantity: len(inv.Paths), Items: itemsXML{Path: inv.Paths}},
		},
	}
}
