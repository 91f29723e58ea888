using Xunit.Abstractions;
using Xunit.Sdk;

[assembly: Xunit.TestCollectionOrderer("Aeterna.Integration.Tests.NativeBuildsFirst", "Aeterna.Integration.Tests")]

namespace Aeterna.Integration.Tests;

/// <summary>
/// The tests that compile with NativeAOT (minutes of one core each, the rest of the suite mostly
/// waits on timeouts and drains): one at a time, and first, so that their compiles overlap with
/// the other tests of the parallel part instead of running alone after them.
/// </summary>
[Xunit.CollectionDefinition(Name)]
public sealed class NativeBuilds
{
    public const string Name = "native builds";
}

/// <summary>Runs the <see cref="NativeBuilds"/> collection before every other one; the rest keep their order.</summary>
public sealed class NativeBuildsFirst : ITestCollectionOrderer
{
    public IEnumerable<ITestCollection> OrderTestCollections(IEnumerable<ITestCollection> testCollections) =>
        testCollections.OrderBy(c => c.DisplayName == NativeBuilds.Name ? 0 : 1);
}
