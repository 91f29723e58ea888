using Aeterna.Tool.Cli;

return await AeternaCli.Create().Parse(args).InvokeAsync();
