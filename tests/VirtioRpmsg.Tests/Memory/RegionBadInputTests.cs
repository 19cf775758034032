namespace VirtioRpmsg.Tests.Memory;

public class RegionBadInputTests
{
    [Theory]
    [MemberData(nameof(FailingOpens.Names), MemberType = typeof(FailingOpens))]
    public void Open_BadInput_ThrowsSpecificExceptionNamingPathAndValue(string kind)
    {
        using var files = new TestFiles();
        FailingOpens.Cases[kind](files);
    }
}
