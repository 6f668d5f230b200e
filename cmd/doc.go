// Package cmd is Quaver's command line: one small file per cobra command.
// It turns flags, environment and files into a config.Config and hands it
// to the server (or the load tool); it is the only package that prints.
package cmd
