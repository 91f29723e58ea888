using Aeterna.State;

namespace Aeterna.Hosting;

/// <summary>One <c>AddRelayState&lt;T&gt;()</c>: the section name, the live instance, and a factory for scratch instances.</summary>
internal sealed record RelayStateRegistration(string Name, Func<IServiceProvider, IRelayState> Instance, Func<IRelayState> CreateScratch)
{
    public static RelayStateSet BuildSet(IServiceProvider services, IEnumerable<RelayStateRegistration> registrations)
    {
        var set = new RelayStateSet();
        foreach (var r in registrations) set.Add(r.Name, r.Instance(services), r.CreateScratch);
        return set;
    }
}
