using System.CommandLine;

var root = new RootCommand("pii: field, key and stream tools for PiiAspire");
return root.Parse(args).Invoke();
