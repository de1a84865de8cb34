package recording

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteRecordingsText writes one row per merged recording: namespace,
// workload, container, the nodes, how many syscalls and records, and when
// the last record was seen.
func WriteRecordingsText(w io.Writer, recs []Recording) error {
	if len(recs) == 0 {
		_, err := fmt.Fprintf(w, "no recordings in the NodeSeccompInventories (status.recordings); docs/recording.md says how to record a workload\n")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tWORKLOAD\tCONTAINER\tNODES\tSYSCALLS\tUNNAMED\tRECORDS\tPODS\tLAST SEEN")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.Namespace, r.Workload, r.Container,
			strings.Join(r.Nodes, ","), len(r.Syscalls), r.UnnamedSyscalls, r.Records, r.Pods, lastSeen(r.LastSeen))
	}
	return tw.Flush()
}

// WriteRecordingsJSON writes the merged recordings as a JSON array.
func WriteRecordingsJSON(w io.Writer, recs []Recording) error {
	if recs == nil {
		recs = []Recording{}
	}
	b, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
