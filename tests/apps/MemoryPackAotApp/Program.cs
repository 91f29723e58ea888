using Aeterna;
using MemoryPackAotApp;

// export FILE: writes the sample state, in the relay format, to FILE and prints it as read back here;
// import FILE: reads the state in a fresh process (which never touched a MemoryPack type before) and prints it;
// schema: prints the relay manifest. Any failure exits 1 with the error.
try
{
    switch (args)
    {
        case ["export", string file]:
            var state = AgentState.Sample();
            byte[] bytes = RelaySerializer.Serialize(state);
            File.WriteAllBytes(file, bytes);
            Console.WriteLine(RelaySerializer.Deserialize<AgentState>(bytes).Describe());
            return 0;
        case ["import", string file]:
            Console.WriteLine(RelaySerializer.Deserialize<AgentState>(File.ReadAllBytes(file)).Describe());
            return 0;
        case ["schema"]:
            Console.WriteLine(RelaySchema.ManifestJson);
            return 0;
        default:
            Console.Error.WriteLine("usage: MemoryPackAotApp export FILE | import FILE | schema");
            return 2;
    }
}
catch (Exception e)
{
    Console.Error.WriteLine(e);
    return 1;
}
