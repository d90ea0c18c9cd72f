using KeyPool.CommandLine;

return await KeyPoolCommandLine.Create().Parse(args).InvokeAsync();
