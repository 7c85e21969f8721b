package unraid

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Paths of the state files, relative to the root.
const (
	VarIni     = "var/local/emhttp/var.ini"
	DisksIni   = "var/local/emhttp/disks.ini"
	SharesIni  = "var/local/emhttp/shares.ini"
	DynamixCfg = "boot/config/plugins/dynamix/dynamix.cfg"
	SharesCfg  = "boot/config/shares"
	MdCmd      = "proc/mdcmd"
	DiskStats  = "proc/diskstats"
)

// KiB is the unit of every size in emhttpd's files.
const KiB = 1024

// Join returns rel under root ("/" when root is empty).
func Join(root, rel string) string {
	if root == "" {
		root = "/"
	}
	return filepath.Join(root, filepath.FromSlash(rel))
}

// IsNotExist reports whether err means the file is missing: the normal case
// on a host that is not Unraid.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// SafeName reports whether a share or disk name from an ini file can be
// used as one path element.
func SafeName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// Var is the part of var.ini the plugins use.
type Var struct {
	Version        string
	Name           string
	MdState        string
	MdNumDisks     int64
	MdNumDisabled  int64
	MdNumInvalid   int64
	MdNumMissing   int64
	SbSynced       int64
	SbSyncErrs     int64
	SbSyncExit     string
	MdResync       uint64
	MdResyncPos    uint64
	MdResyncSize   uint64
	MdResyncDt     uint64
	MdResyncDb     uint64
	MdResyncAction string
	MdResyncCorr   string
	FsState        string
	SpindownDelay  int64 // minutes, the default for disks set to "-1"
	ShareCount     int64
	CSRFToken      string
}

// ReadVar reads var.ini under root.
func ReadVar(root string) (Var, error) {
	f, err := ReadFile(Join(root, VarIni))
	if err != nil {
		return Var{}, err
	}
	g := f.Global
	action := g.String("mdResyncAction")
	if _, ok := g.Get("mdResyncAction"); !ok {
		action = g.String("sbSyncAction") // older releases
	}
	return Var{
		Version:        g.String("version"),
		Name:           g.String("NAME"),
		MdState:        g.String("mdState"),
		MdNumDisks:     g.Int("mdNumDisks", 0),
		MdNumDisabled:  g.Int("mdNumDisabled", 0),
		MdNumInvalid:   g.Int("mdNumInvalid", 0),
		MdNumMissing:   g.Int("mdNumMissing", 0),
		SbSynced:       g.Int("sbSynced", 0),
		SbSyncErrs:     g.Int("sbSyncErrs", 0),
		SbSyncExit:     g.String("sbSyncExit"),
		MdResync:       g.Uint("mdResync", 0),
		MdResyncPos:    g.Uint("mdResyncPos", 0),
		MdResyncSize:   g.Uint("mdResyncSize", 0),
		MdResyncDt:     g.Uint("mdResyncDt", 0),
		MdResyncDb:     g.Uint("mdResyncDb", 0),
		MdResyncAction: action,
		MdResyncCorr:   g.String("mdResyncCorr"),
		FsState:        g.String("fsState"),
		SpindownDelay:  g.Int("spindownDelay", 0),
		ShareCount:     g.Int("shareCount", 0),
		CSRFToken:      g.String("csrf_token"),
	}, nil
}

// Slot is one section of disks.ini.
type Slot struct {
	Section       string // the section name: "parity", "disk1", "cache"...
	Idx           int64
	Name          string
	Device        string // "sdb", "nvme0n1", "" when empty
	ID            string // model_serial
	SizeKiB       uint64
	Status        string
	Temp          string // "*" spun down, "" unknown, else °C
	NumReads      uint64
	NumWrites     uint64
	NumErrors     uint64
	Type          string // Parity, Data, Cache, Flash
	Color         string
	Rotational    string
	Spundown      string // "0"/"1"
	SpindownDelay string // minutes, "-1" = default
	FsType        string
	FsStatus      string
	FsSizeKiB     uint64
	FsFreeKiB     uint64
	FsUsedKiB     uint64
	HasFsSizes    bool // fsSize/fsFree/fsUsed present and not all zero
	Warning       string
	Critical      string
}

// Empty reports whether the slot has no disk: status DISK_NP and no device.
func (s Slot) Empty() bool { return s.Status == "DISK_NP" && s.Device == "" }

// ReadDisks reads disks.ini under root, slots in file order.
func ReadDisks(root string) ([]Slot, error) {
	f, err := ReadFile(Join(root, DisksIni))
	if err != nil {
		return nil, err
	}
	out := make([]Slot, 0, len(f.Sections))
	for _, s := range f.Sections {
		name := s.String("name")
		if name == "" {
			name = s.Name
		}
		sl := Slot{
			Section:       s.Name,
			Idx:           s.Int("idx", -1),
			Name:          name,
			Device:        s.String("device"),
			ID:            s.String("id"),
			SizeKiB:       s.Uint("size", 0),
			Status:        s.String("status"),
			Temp:          s.String("temp"),
			NumReads:      s.Uint("numReads", 0),
			NumWrites:     s.Uint("numWrites", 0),
			NumErrors:     s.Uint("numErrors", 0),
			Type:          s.String("type"),
			Color:         s.String("color"),
			Rotational:    s.String("rotational"),
			Spundown:      s.String("spundown"),
			SpindownDelay: s.String("spindownDelay"),
			FsType:        s.String("fsType"),
			FsStatus:      s.String("fsStatus"),
			FsSizeKiB:     s.Uint("fsSize", 0),
			FsFreeKiB:     s.Uint("fsFree", 0),
			FsUsedKiB:     s.Uint("fsUsed", 0),
			Warning:       s.String("warning"),
			Critical:      s.String("critical"),
		}
		sl.HasFsSizes = sl.FsSizeKiB > 0 || sl.FsFreeKiB > 0 || sl.FsUsedKiB > 0
		out = append(out, sl)
	}
	return out, nil
}

// Share is one section of shares.ini.
type Share struct {
	Name       string
	Comment    string
	UseCache   string // no, yes, only, prefer
	CachePool  string
	CachePool2 string
	SizeKiB    uint64
	FreeKiB    uint64
	UsedKiB    uint64
	HasSizes   bool // free or used present and not both zero
}

// ReadShares reads shares.ini under root, shares in file order.
func ReadShares(root string) ([]Share, error) {
	f, err := ReadFile(Join(root, SharesIni))
	if err != nil {
		return nil, err
	}
	out := make([]Share, 0, len(f.Sections))
	for _, s := range f.Sections {
		name := s.String("name")
		if name == "" {
			name = s.Name
		}
		sh := Share{
			Name:       name,
			Comment:    s.String("comment"),
			UseCache:   s.String("useCache"),
			CachePool:  s.String("cachePool"),
			CachePool2: s.String("cachePool2"),
			SizeKiB:    s.Uint("size", 0),
			FreeKiB:    s.Uint("free", 0),
			UsedKiB:    s.Uint("used", 0),
		}
		sh.HasSizes = sh.FreeKiB > 0 || sh.UsedKiB > 0
		out = append(out, sh)
	}
	return out, nil
}

// ShareConfig is a share's config file on the flash,
// boot/config/shares/<name>.cfg.
type ShareConfig struct {
	Comment   string
	UseCache  string
	Export    string // SMB: "e" exported, "eh" exported hidden, "-" not
	ExportNFS string // "e", "-"
	Security  string // public, secure, private
}

// ReadShareConfig reads boot/config/shares/<name>.cfg under root.
func ReadShareConfig(root, name string) (ShareConfig, error) {
	if !SafeName(name) {
		return ShareConfig{}, fmt.Errorf("share name %q: %w", name, fs.ErrInvalid)
	}
	f, err := ReadFile(Join(root, SharesCfg+"/"+name+".cfg"))
	if err != nil {
		return ShareConfig{}, err
	}
	g := f.Global
	return ShareConfig{
		Comment:   g.String("shareComment"),
		UseCache:  g.String("shareUseCache"),
		Export:    g.String("shareExport"),
		ExportNFS: g.String("shareExportNFS"),
		Security:  g.String("shareSecurity"),
	}, nil
}

// TempLimits are the global disk temperature thresholds (°C) from the
// Dynamix display settings ([display] hot= / max=), used for disks whose
// own warning/critical are empty.
type TempLimits struct {
	Warning     float64
	Critical    float64
	SSDWarning  float64 // hotssd, for non-rotational disks
	SSDCritical float64 // maxssd
}

// DefaultTempLimits are Unraid's defaults when dynamix.cfg does not set them.
var DefaultTempLimits = TempLimits{Warning: 45, Critical: 55, SSDWarning: 60, SSDCritical: 70}

// ReadTempLimits reads boot/config/plugins/dynamix/dynamix.cfg under root.
// A missing file or key gives the defaults.
func ReadTempLimits(root string) (TempLimits, error) {
	f, err := ReadFile(Join(root, DynamixCfg))
	if err != nil {
		if IsNotExist(err) {
			return DefaultTempLimits, nil
		}
		return DefaultTempLimits, err
	}
	return TempLimitsOf(f.Section("display")), nil
}

// TempLimitsOf reads the thresholds of dynamix.cfg's [display] section d
// (nil for none); a missing or non-positive key gives the default.
func TempLimitsOf(d *Section) TempLimits {
	lim := DefaultTempLimits
	if v := d.Int("hot", 0); v > 0 {
		lim.Warning = float64(v)
	}
	if v := d.Int("max", 0); v > 0 {
		lim.Critical = float64(v)
	}
	if v := d.Int("hotssd", 0); v > 0 {
		lim.SSDWarning = float64(v)
	}
	if v := d.Int("maxssd", 0); v > 0 {
		lim.SSDCritical = float64(v)
	}
	return lim
}
