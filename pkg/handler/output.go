package handler

import "strings"

// TopicPlaceholder in handler.output_topic stands for a record's source
// topic, so a processor of several input topics writes each to its own
// output: "{topic}.out" sends orders to orders.out and payments to
// payments.out.
const TopicPlaceholder = "{topic}"

// OutputTopic returns where forward writes a record of source topic under
// the configured output name: the name with TopicPlaceholder replaced by
// source, or the name itself when it has no placeholder.
func OutputTopic(output, source string) string {
	if !strings.Contains(output, TopicPlaceholder) {
		return output
	}
	return strings.ReplaceAll(output, TopicPlaceholder, source)
}
