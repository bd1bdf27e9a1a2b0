Console.Error.WriteLine("The AppHost is being built (issue 4); nothing to start yet.");
return 1;
