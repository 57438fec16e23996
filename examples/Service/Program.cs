namespace Functional.Examples.Service;

/// <summary>Serves a saved model over HTTP; see <see cref="ServiceOptions.Usage"/> and the README's "Serving a model".</summary>
public static class Program
{
    /// <summary>Exit code 0 after a clean shutdown, 2 for a bad option, a model that cannot be loaded, or an address it cannot listen on.</summary>
    public static Task<int> Main(string[] args) => ServiceHost.RunAsync(args);
}
