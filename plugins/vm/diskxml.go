package main

import (
	"encoding/xml"
	"strings"
)

// diskInfo is the first disk of a domain.
type diskInfo struct {
	Path   string // source file, block device, or pool/volume
	Target string // guest device name (vda, hdc), what block calls take
}

type domainXML struct {
	Disks []struct {
		Type   string `xml:"type,attr"`
		Device string `xml:"device,attr"`
		Source struct {
			File   string `xml:"file,attr"`
			Dev    string `xml:"dev,attr"`
			Name   string `xml:"name,attr"`
			Pool   string `xml:"pool,attr"`
			Volume string `xml:"volume,attr"`
		} `xml:"source"`
		Target struct {
			Dev string `xml:"dev,attr"`
		} `xml:"target"`
	} `xml:"devices>disk"`
}

// maxDomainXML caps the domain XML we parse; real ones are a few KiB.
const maxDomainXML = 1 << 20

// firstDisk finds the first <disk device="disk"> (device defaults to disk)
// in a domain XML that has a source, skipping CD-ROMs and floppies.
func firstDisk(b []byte) (diskInfo, bool) {
	if len(b) > maxDomainXML {
		return diskInfo{}, false
	}
	var d domainXML
	if err := xml.Unmarshal(b, &d); err != nil {
		return diskInfo{}, false
	}
	for _, disk := range d.Disks {
		if disk.Device != "" && disk.Device != "disk" {
			continue
		}
		s := disk.Source
		path := firstNonEmpty(s.File, s.Dev, s.Name)
		if path == "" && s.Pool != "" && s.Volume != "" {
			path = s.Pool + "/" + s.Volume
		}
		if path == "" {
			continue
		}
		target := strings.TrimSpace(disk.Target.Dev)
		if target == "" {
			target = path
		}
		return diskInfo{Path: path, Target: target}, true
	}
	return diskInfo{}, false
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
