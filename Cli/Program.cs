using System.CommandLine;
using Pii.Cli.Commands;

// Each verb group lives in Commands/<Group>Commands.cs and exposes Create().
var root = new RootCommand("pii: field, key and stream tools for PiiAspire");
root.Subcommands.Add(KeywrapCommands.Create());
root.Subcommands.Add(SivCommands.Create());
root.Subcommands.Add(FpeCommands.Create());
root.Subcommands.Add(KeyCommands.Create());
root.Subcommands.Add(KekCommands.Create());
root.Subcommands.Add(TransitCommands.Create());
root.Subcommands.Add(FieldCommands.Create());
root.Subcommands.Add(BlindIndexCommands.Create());
root.Subcommands.Add(AuditCommands.Create());
root.Subcommands.Add(StreamCommands.Create());
root.Subcommands.Add(BackupCommands.Create());
ParseResult parseResult = root.Parse(args);
return parseResult.Errors.Count > 0 ? CommandRunner.ReportParseErrors(parseResult) : parseResult.Invoke();
