using System.CommandLine;

// Each verb group lives in Commands/<Group>Commands.cs and exposes Create().
var root = new RootCommand("pii: field, key and stream tools for PiiAspire");
root.Subcommands.Add(Pii.Cli.Commands.StreamCommands.Create());
return root.Parse(args).Invoke();
